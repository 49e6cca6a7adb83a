"""A run config read as ``gansep fit`` reads it, for the tools that work on a run's data
(``prepare``, ``evaluate``, ``check-data``, ``evaluate-alignment``): ``--config RUN.yaml``
(repeatable, merged in order) and any LightningCLI ``--key value`` after it."""

from __future__ import annotations

import argparse
from pathlib import Path

from gansep.cli.lightning import lightning_cli
from gansep.data.cache import CachedCollection


def add_config_option(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--config", type=Path, action="append", required=required,
                        help="run config(s), merged in order as by gansep fit; any other "
                             "--key value is a LightningCLI key of that run")


def read_run(configs: list[Path], overrides: list[str]):
    """``(datamodule, generator, collection)`` of a run config: the collection is the
    datamodule's track collection without its decoded cache (the tools read the files)."""
    arguments = []
    for path in configs:
        arguments += ["--config", str(path)]
    cli = lightning_cli(arguments + overrides + ["--trainer.logger", "false"], run=False)
    data = cli.datamodule
    collection = data.collection
    if isinstance(collection, CachedCollection):
        collection = collection.collection
    return data, cli.model.generator, collection
