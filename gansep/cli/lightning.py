"""``gansep fit|validate|test|predict``: the LightningCLI over gansep's modules."""

from __future__ import annotations

from lightning_fabric.plugins import CheckpointIO
from pytorch_lightning.cli import LightningCLI

from gansep.cli.commands import DESCRIPTION
from gansep.data.datamodule import SeparationData
from gansep.training.robust import AtomicCheckpointIO, SaveOnPreemption
from gansep.training.separator import Separator


class GansepCLI(LightningCLI):
    """LightningCLI over any :class:`Separator` subclass and :class:`SeparationData`, whose
    trainers write checkpoints atomically and save ``last.ckpt`` on SIGTERM."""

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the checkpoint's hyperparameters here, before the trainer exists:
        # check the file first with gansep's safe loader, so a bad one is a one-line error.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in ("last", "best", "hpc", "registry") and \
                "://" not in str(ckpt_path):
            from gansep.export import load_checkpoint_file

            load_checkpoint_file(ckpt_path)
        super()._parse_ckpt_path()

    def instantiate_trainer(self, **kwargs):
        plugins = self._get(self.config_init, "trainer", default={}).get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
        kwargs.setdefault("plugins", plugins)
        return super().instantiate_trainer(**kwargs)


def lightning_cli(args: list[str] | None, run: bool = True, callbacks=()) -> GansepCLI:
    """gansep's LightningCLI over ``args`` (with ``run=False``: no subcommand, the module,
    data and trainer built but nothing run). ``callbacks`` join the configuration's."""
    return GansepCLI(Separator, SeparationData, subclass_mode_model=True, args=args, run=run,
                     save_config_kwargs={"overwrite": True},
                     trainer_defaults={"callbacks": [SaveOnPreemption(), *callbacks]},
                     parser_kwargs={"description": DESCRIPTION})
