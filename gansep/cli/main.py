"""The ``gansep`` command: LightningCLI (fit, validate, test, predict) plus gansep's own tools."""

from __future__ import annotations

import logging
import sys

from pytorch_lightning.cli import LightningCLI

from gansep.data.datamodule import SeparationData
from gansep.training.separator import Separator

TOOLS = {
    "describe": ("gansep.cli.describe", "print a model's lengths, context and size"),
    "make-data": ("gansep.cli.make_data", "write a generated dataset (toy)"),
    "evaluate": ("gansep.cli.evaluate:evaluate_main",
                 "separate and score a test split with a checkpoint (museval format)"),
    "score": ("gansep.cli.evaluate:score_main", "score any separator's output folders"),
    "export": ("gansep.cli.separate:export_main",
               "write a checkpoint's generator as safetensors + JSON + TorchScript"),
    "separate": ("gansep.cli.separate:separate_main", "separate audio files"),
}

DESCRIPTION = ("gansep: adversarially trained Wave-U-Net source separation.\n"
               "Training and evaluation: gansep fit|validate|test --config FILE [--key value ...]"
               "\nTools: " + "; ".join(f"gansep {name}: {about}"
                                       for name, (_, about) in TOOLS.items()))


class GansepCLI(LightningCLI):
    """LightningCLI over any :class:`Separator` subclass and :class:`SeparationData`."""


def run_lightning(args: list[str] | None) -> None:
    GansepCLI(Separator, SeparationData, subclass_mode_model=True, args=args,
              save_config_kwargs={"overwrite": True},
              parser_kwargs={"description": DESCRIPTION})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args and args[0] in TOOLS:
        import importlib

        module_name, _, function = TOOLS[args[0]][0].partition(":")
        entry = getattr(importlib.import_module(module_name), function or "main")
        return entry(args[1:]) or 0
    run_lightning(None if argv is None else args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
