"""The ``gansep`` command: LightningCLI (fit, validate, test, predict; see
:mod:`gansep.cli.lightning`) plus gansep's own tools, each imported only when it runs."""

from __future__ import annotations

import logging
import sys

TOOLS = {
    "describe": ("gansep.cli.describe", "print a model's lengths, context and size"),
    "make-data": ("gansep.cli.make_data", "write a generated dataset (toy)"),
    "evaluate": ("gansep.cli.evaluate:evaluate_main",
                 "separate and score a test split with a checkpoint (museval format)"),
    "score": ("gansep.cli.evaluate:score_main", "score any separator's output folders"),
    "export": ("gansep.cli.separate:export_main",
               "write a checkpoint's generator as safetensors + JSON + TorchScript"),
    "separate": ("gansep.cli.separate:separate_main", "separate audio files"),
    "check-data": ("gansep.cli.check_data", "list every problem of a dataset"),
    "sweep": ("gansep.cli.sweep", "run a wandb-format sweep locally, one process per run"),
    "compare": ("gansep.cli.compare", "compare objectives: tables, box plot, Wilcoxon tests"),
}

DESCRIPTION = ("gansep: adversarially trained Wave-U-Net source separation.\n"
               "Training and evaluation: gansep fit|validate|test --config FILE [--key value ...]"
               "\nTools: " + "; ".join(f"gansep {name}: {about}"
                                       for name, (_, about) in TOOLS.items()))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args and args[0] in TOOLS:
        import importlib

        module_name, _, function = TOOLS[args[0]][0].partition(":")
        entry = getattr(importlib.import_module(module_name), function or "main")
        return entry(args[1:]) or 0
    # Lightning is imported only here: the tools start in a fraction of its import time.
    from gansep.cli.lightning import lightning_cli
    from gansep.data.audio import DataError
    from gansep.training.robust import DivergenceError

    try:
        lightning_cli(None if argv is None else args)
    except (DivergenceError, DataError) as error:
        logging.getLogger("gansep").error("gansep: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
