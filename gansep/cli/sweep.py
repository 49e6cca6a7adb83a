"""``gansep sweep FILE``: run a wandb-format sweep locally and offline (see
`gansep.experiments.sweep`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import distinct_paths, natural_int, positive_int
from gansep.eval.perceptual import PerceptualModel
from gansep.experiments.sweep import __doc__ as about, run_sweep

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep sweep", description=about)
    parser.add_argument("file", type=Path, help="wandb sweep YAML")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/sweep"))
    parser.add_argument("--parallel", type=positive_int, default=1, help="runs at a time")
    parser.add_argument("--max-runs", type=positive_int, help="at most this many runs")
    parser.add_argument("--seed", type=natural_int, default=0, help="seed of random sweeps")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip gansep evaluate after each run")
    parser.add_argument("--perceptual", type=Path, metavar="DIR",
                        help="evaluate also reports this fitted perceptual score "
                             "(gansep listen fit-objective's folder)")
    args = parser.parse_args(argv)
    if args.perceptual is not None:
        PerceptualModel.load(args.perceptual)  # a bad folder fails before any training
    distinct_paths([("file", args.file), ("--perceptual", args.perceptual)],
                   folders=[("--runs-dir", args.runs_dir)])
    counts = run_sweep(args.file, args.runs_dir, args.parallel, args.max_runs, args.seed,
                       not args.no_evaluate, args.perceptual)
    log.info("sweep done: %d finished, %d skipped (finished earlier), %d failed",
             counts["finished"], counts["skipped"], counts["failed"])
    return 1 if counts["failed"] else 0
