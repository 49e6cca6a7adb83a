"""``gansep check-data ROOT`` (a stems folder or MUSDB18-HQ) or ``gansep check-data --config
RUN.yaml [--key value ...]`` (any run's TrackCollection): list every problem of a dataset
before training on it; the work is in `gansep.data.check`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import natural_float, positive_int
from gansep.cli.runconfig import add_config_option, read_run
from gansep.data.check import check_collection, check_dataset
from gansep.errors import ConfigError

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep check-data", description=(
        "Scan <root>/<split>/<track>/ (a stems folder or MUSDB18-HQ) and list unreadable or "
        "truncated files, NaN, mismatched sample rates, lengths and channel counts, mixtures "
        "that are not the sum of their stems, and silent stems."))
    by_config = any(a == "--config" or a.startswith("--config=") for a in argv)
    if by_config:  # the run's --key value overrides follow; no ROOT among them
        add_config_option(parser, required=True)
    else:
        parser.add_argument("root", type=Path, help="a stems folder or MUSDB18-HQ (or give a "
                                                     "run's --config RUN.yaml instead)")
    parser.add_argument("--tolerance", type=natural_float, default=1e-3,
                        help="max |mixture - sum of stems| relative to the mixture's peak")
    parser.add_argument("--sample-rate", type=positive_int, help="the rate every file must have")
    args, overrides = parser.parse_known_args(argv) if by_config else (parser.parse_args(argv), [])
    if by_config:
        collection = read_run(args.config, overrides).collection
        notes: list[str] = []
        count, problems = check_collection(collection, args.tolerance, args.sample_rate, notes)
        for note in notes:
            print(f"note: {note}")
    else:
        if not args.root.is_dir():  # nothing to check: refused (2), not a dataset with problems
            raise ConfigError(f"{args.root}: dataset root does not exist or is not a folder")
        count, problems = check_dataset(args.root, args.tolerance, args.sample_rate)
    for problem in problems:  # the report, on stdout
        print(problem)
    print(f"{count} track(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0
