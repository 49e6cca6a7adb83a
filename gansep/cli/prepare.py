"""``gansep prepare --config RUN.yaml [--cache DIR] [--key value ...]``: build the decoded
cache of a run's training and validation data ahead of time (see `gansep.data.cache`).
Any other option is a LightningCLI key, as for ``gansep fit``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from gansep.cli.options import distinct_paths, positive_int
from gansep.cli.runconfig import add_config_option, read_run
from gansep.data.cache import CachedCollection, default_cache_dir, describe_footprint

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep prepare", description=__doc__)
    add_config_option(parser, required=True)
    parser.add_argument("--cache", type=Path,
                        help="cache folder (default: the config's data.cache_dir, else "
                             "$GANSEP_CACHE or ~/.cache/gansep)")
    parser.add_argument("--workers", type=positive_int,
                        default=max(1, len(os.sched_getaffinity(0))),
                        help="tracks decoded in parallel (default: the CPUs available)")
    parser.add_argument("--splits", nargs="+", default=["train", "valid"],
                        choices=["train", "valid", "test"])
    parser.add_argument("--verify", action="store_true",
                        help="check the SHA-256 of every cached file (rebuild what differs)")
    args, overrides = parser.parse_known_args(argv)

    run = read_run(args.config, overrides)
    data, generator, collection = run.datamodule, run.generator, run.collection
    cache_dir = args.cache or data.resolved_cache_dir() or default_cache_dir()
    distinct_paths([("--config", path) for path in args.config]
                   + [("data root", getattr(collection, "root", None))],
                   folders=[("--cache", cache_dir)])
    cache = CachedCollection(collection, cache_dir, generator.sample_rate, generator.channels,
                             data.cache_dtype, verify=args.verify, workers=args.workers)
    footprint = cache.prepare(args.splits, progress=True)
    log.info("cache %s: %s", cache.root, describe_footprint(footprint))
    return 0
