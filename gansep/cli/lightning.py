"""``gansep fit|validate|test|predict``: the LightningCLI over gansep's modules."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning_fabric.plugins import CheckpointIO
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from gansep.cli.commands import DESCRIPTION
from gansep.data.datamodule import SeparationData
from gansep.devices import check_trainer_devices
from gansep.models import check_parameter_memory, on_meta
from gansep.errors import ConfigError
from gansep.checkpoints import check_finite_weights, load_checkpoint_file
from gansep.training.hyperparameters import check_hyperparameters, check_resolved_model
from gansep.training.robust import (AtomicCheckpointIO, SaveOnPreemption,
                                    check_training_memory)
from gansep.training.separator import Separator


log = logging.getLogger(__name__)

_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:",
          "Expected a <class 'NoneType'>", "Given value type:", "Problem with given class_path")


def one_line(message: str) -> str:
    """jsonargparse's multi-line parse error as one line: the key (nested keys joined by
    dots), what was wrong with the value, and the value."""
    import re

    keys, reasons, value, classes = [], [], None, []
    for line in str(message).splitlines():
        line = line.strip().lstrip("- ").strip()
        nested = re.match(r'Parser key "([^"]+)":?$', line)
        given = re.match(r"Problem with given class_path '([^']+)'", line)
        if nested:
            keys.append(nested.group(1))
        elif given:
            classes.append(given.group(1))
        elif line.startswith("Given value:"):
            value = line.split(":", 1)[1].strip()
        elif line and not line.startswith(_NOISE):
            reasons.append(re.sub(r"<class '([\w.]+)'>", r"\1", line))
    text = "; ".join(dict.fromkeys(reasons)) or "invalid value"
    if classes:
        text += f" (class {classes[-1]})"
    if value and not value.startswith("NestedArg(") and value not in text:
        text += f" (given {value})"
    return f"{'.'.join(keys)}: {text}" if keys else text


class OneLineParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors are one line and a --help pointer rather than the
    whole usage (with GANSEP_DEBUG=1 jsonargparse's own report is kept)."""

    def error(self, message: str, ex: Exception | None = None):
        import os
        import sys

        if not self.exit_on_error or os.environ.get("GANSEP_DEBUG", "") not in ("", "0"):
            return super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"{prog}: {one_line(message)} ({prog} --help lists the options)\n")
        sys.exit(2)


def logger_arguments(config) -> list:
    """The ``init_args`` of every logger a Trainer configuration names (none for ``logger:
    false``, ``true`` or Lightning's default)."""
    loggers = (config.get("trainer") or {}).get("logger")
    loggers = loggers if isinstance(loggers, list) else [loggers]
    return [logger["init_args"] for logger in loggers
            if hasattr(logger, "get") and logger.get("init_args") is not None]


def run_folder(init_args) -> Path | None:
    """A logger's run folder, ``save_dir/name/version``; None where the version is not fixed
    (Lightning then picks the next free ``version_<n>``) or the logger has no local folder."""
    save_dir, version = init_args.get("save_dir"), init_args.get("version")
    if save_dir is None or version is None or "://" in str(save_dir):
        return None
    name = init_args.get("name", "lightning_logs")
    return Path(str(save_dir)) / (str(name) if name else "") / str(version)


class CheckedCheckpointIO(AtomicCheckpointIO):
    """The trainer's checkpoint reader for ``--ckpt_path last``/``best`` and every other path
    it resolves itself: the checks of `GansepCLI._parse_ckpt_path` (no code named in the
    hyper-parameters, no non-finite weights) on top of the safe loader."""

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        checkpoint = super().load_checkpoint(path, map_location, weights_only)
        check_hyperparameters(checkpoint, path)
        check_finite_weights(checkpoint.get("state_dict") or {}, path)
        return checkpoint


class GansepCLI(LightningCLI):
    """LightningCLI over any [`Separator`][] subclass and [`SeparationData`][], whose
    trainers write checkpoints atomically and save ``last.ckpt`` on SIGTERM."""

    #: Whether `_check_sizes` checked the training step's activations on the meta device.
    _activations_checked = False

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        # No predict: a Separator predicts nothing per batch; gansep separate applies a
        # trained separator to files.
        return {name: keys for name, keys in LightningCLI.subcommands().items()
                if name != "predict"}

    def _add_configure_optimizers_method_to_model(self, subcommand) -> None:
        # --optimizer / --lr_scheduler at the top level are built here: torch's refusal of an
        # argument (a negative learning rate) names the option.
        try:
            super()._add_configure_optimizers_method_to_model(subcommand)
        except ValueError as error:
            raise ConfigError(f"--optimizer/--lr_scheduler: {error}") from None

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the hyper-parameters of any ckpt_path that is a file here, before the
        # trainer exists (a file named 'last' too, keyword or not): check the file first with
        # gansep's safe loader, so a bad one is a one-line error. Its hyper-parameters become
        # configuration: checked before jsonargparse resolves them and again after.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path or "://" in str(ckpt_path) or not Path(ckpt_path).is_file():
            if ckpt_path and ckpt_path not in ("last", "best", "hpc", "registry") and \
                    "://" not in str(ckpt_path):
                load_checkpoint_file(ckpt_path)  # says what is wrong with the path
            return super()._parse_ckpt_path()
        checkpoint = load_checkpoint_file(ckpt_path)
        check_hyperparameters(checkpoint, ckpt_path)
        check_finite_weights(checkpoint.get("state_dict") or {}, ckpt_path)
        super()._parse_ckpt_path()
        model = self.config[subcommand].get("model")
        check_resolved_model(model.as_dict() if hasattr(model, "as_dict") else model or {},
                             ckpt_path)

    def before_instantiate_classes(self) -> None:
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self._keep_runs_apart(subcommand, config)
        self._check_sizes(subcommand, config)

    @staticmethod
    def _keep_runs_apart(subcommand: str | None, config) -> None:
        # A run is one folder, the logger's save_dir/name/version: a new fit never writes into
        # another's (it resumes it with --ckpt_path, or is refused), and test/validate log into
        # a folder of their own below the run, never into the fit's metrics.
        for init_args in logger_arguments(config):
            folder = run_folder(init_args)
            if folder is None:
                continue
            if subcommand == "fit" and not config.get("ckpt_path") and folder.is_dir() and \
                    any(folder.iterdir()):
                held = sorted(p.name for p in folder.iterdir())
                raise ConfigError(
                    f"{folder} holds an earlier run ({', '.join(held[:4])}"
                    f"{', ...' if len(held) > 4 else ''}): nothing written; resume it with "
                    "--ckpt_path last, or give this run its own "
                    "--trainer.logger.init_args.version")
            if subcommand in ("test", "validate"):
                where = {key: init_args.get(key) for key in ("save_dir", "name")}
                version, number = f"{init_args['version']}/{subcommand}", 1
                while run_folder({**where, "version": version}).exists():
                    number += 1
                    version = f"{init_args['version']}/{subcommand}-{number}"
                init_args["version"] = version
                log.info("%s logs to %s", subcommand, run_folder({**where, "version": version}))

    def _check_sizes(self, subcommand: str | None, config) -> None:
        # Sizes checked before anything is built, allocated or started: the device count
        # against this machine, the generator's parameters and (fit) a training step's
        # activations on the meta device.
        trainer = config.get("trainer") or {}
        check_trainer_devices(trainer.get("accelerator"), trainer.get("devices"))
        generator = ((config.get("model") or {}).get("init_args") or {}).get("generator")
        class_path = generator.get("class_path") if generator is not None else None
        if isinstance(class_path, str) and "." in class_path:
            import importlib

            module, _, name = class_path.rpartition(".")
            init_args = generator.get("init_args")
            init_args = init_args.as_dict() if hasattr(init_args, "as_dict") else dict(
                init_args or {})
            cls = getattr(importlib.import_module(module), name)
            copies = 4 if subcommand == "fit" else 1  # weights, gradients, Adam's 2 moments
            built = on_meta(cls, init_args)
            check_parameter_memory(built, "model.init_args.generator "
                                   f"({class_path})", copies)
            batch_size = (config.get("data") or {}).get("batch_size")
            if subcommand == "fit" and built is not None and isinstance(batch_size, int):
                check_training_memory(built, batch_size)
                self._activations_checked = True

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        # A generator that cannot be built on the meta device is checked here, built, still
        # before the trainer reads any data.
        if self.config.get("subcommand") == "fit" and not self._activations_checked:
            check_training_memory(self.model.generator, self.datamodule.batch_size)

    def instantiate_trainer(self, **kwargs):
        plugins = self._get(self.config_init, "trainer", default={}).get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(CheckedCheckpointIO())
        kwargs.setdefault("plugins", plugins)
        return super().instantiate_trainer(**kwargs)


def lightning_cli(args: list[str] | None, run: bool = True, callbacks=()) -> GansepCLI:
    """gansep's LightningCLI over ``args`` (with ``run=False``: no subcommand, the module,
    data and trainer built but nothing run). ``callbacks`` join the configuration's."""
    return GansepCLI(Separator, SeparationData, subclass_mode_model=True, args=args, run=run,
                     parser_class=OneLineParser,
                     save_config_kwargs={"overwrite": True},
                     trainer_defaults={"callbacks": [SaveOnPreemption(), *callbacks]},
                     parser_kwargs={"description": DESCRIPTION, "prog": "gansep"})
