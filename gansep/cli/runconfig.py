"""A run config read as ``gansep fit`` reads it, for the tools that work on a run's data
(``prepare``, ``evaluate``, ``check-data``, ``evaluate-alignment``): ``--config RUN.yaml``
(repeatable, merged in order) and any LightningCLI ``--key value`` after it."""

from __future__ import annotations

import argparse
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from gansep.data.cache import CachedCollection


def add_config_option(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--config", type=Path, action="append", required=required,
                        help="run config(s), merged in order as by gansep fit; any other "
                             "--key value is a LightningCLI key of that run")


@dataclass
class Run:
    """What the tools take from a run config: the datamodule, the generator, the track
    collection (without its decoded cache: the tools read the files) and the metrics the
    run's model lists beside the standard ones (``model.init_args.metrics``)."""

    datamodule: object
    generator: object
    collection: object
    metrics: list


def read_cli(configs: list[Path], overrides: list[str]):
    """The LightningCLI of run config files merged in order, with LightningCLI overrides,
    its classes built (model, datamodule, trainer without a logger) and nothing run."""
    # Lightning is imported here, not with the module: the tools that take --config start in
    # a fraction of its import time when they are given a folder instead.
    from gansep.cli.lightning import lightning_cli

    arguments = []
    for path in configs:
        arguments += ["--config", str(path)]
    # Lightning's notes (the accelerators found, the seed, how its CLI was called) are about a
    # training run; a tool reading the config only needs the config's errors.
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning.pytorch",
                                                     "lightning_fabric", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            cli = lightning_cli(arguments + overrides + ["--trainer.logger", "false"], run=False)
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
    return cli


def read_run(configs: list[Path], overrides: list[str]) -> Run:
    """The `Run` of run config files merged in order, with LightningCLI overrides."""
    cli = read_cli(configs, overrides)
    data = cli.datamodule
    collection = data.collection
    if isinstance(collection, CachedCollection):
        collection = collection.collection
    return Run(data, cli.model.generator, collection, list(cli.model.metrics))
