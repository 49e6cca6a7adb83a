"""``gansep check-data ROOT``: list every problem of a dataset before training on it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import natural_float, positive_int
from gansep.data.check import check_dataset
from gansep.errors import ConfigError

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep check-data", description=(
        "Scan <root>/<split>/<track>/ (a stems folder or MUSDB18-HQ) and list unreadable or "
        "truncated files, NaN, mismatched sample rates, lengths and channel counts, mixtures "
        "that are not the sum of their stems, and silent stems."))
    parser.add_argument("root", type=Path)
    parser.add_argument("--tolerance", type=natural_float, default=1e-3,
                        help="max |mixture - sum of stems| relative to the mixture's peak")
    parser.add_argument("--sample-rate", type=positive_int, help="the rate every file must have")
    args = parser.parse_args(argv)
    if not args.root.is_dir():  # nothing to check: refused (2), not a dataset with problems (1)
        raise ConfigError(f"{args.root}: dataset root does not exist or is not a folder")
    count, problems = check_dataset(args.root, args.tolerance, args.sample_rate)
    for problem in problems:
        log.error("%s", problem)
    log.info("%d track(s) checked, %d problem(s)", count, len(problems))
    return 1 if problems else 0
