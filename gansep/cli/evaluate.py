"""``gansep evaluate``: separate and score a split with a checkpoint; arguments only, the work
is [`gansep.eval.evaluate.evaluate_checkpoint`][]. The data is a run config's collection
(``--config RUN.yaml [--key value ...]``: any TrackCollection class), or ``--data ROOT`` for a
stems folder (``--musdb`` for MUSDB18)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gansep.cli.options import (device, distinct_paths, positive_float, positive_int,
                                 writable_folder)
from gansep.cli.scoring import add_scoring_options, print_report, scoring_metrics
from gansep.cli.runconfig import add_config_option, read_run
from gansep.data.folder import StemsFolder
from gansep.data.musdb import MUSDB
from gansep.eval.evaluate import evaluate_checkpoint


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep evaluate", description=(
        "Separate every track of a test split with a checkpoint's generator and score it."))
    parser.add_argument("--ckpt", type=Path, required=True, help="gansep training checkpoint")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path,
                      help="dataset root: a stems folder (<root>/<split>/<track>/) or MUSDB")
    add_config_option(data)
    parser.add_argument("--musdb", action="store_true", help="--data is MUSDB18 (musdb.DB)")
    parser.add_argument("--is-wav", action="store_true", help="MUSDB18-HQ (with --musdb)")
    parser.add_argument("--split", choices=["train", "valid", "test"], default="test")
    parser.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA copy")
    parser.add_argument("--base", type=Path,
                        help="the weights a checkpoint of a save_frozen: false run started from "
                             "(its init_from; checked by SHA-256)")
    parser.add_argument("--write-estimates", action="store_true",
                        help="also write OUT/estimates/<track>/<source>.wav")
    parser.add_argument("--duration", type=positive_float, help="score only the first seconds")
    parser.add_argument("--device", type=device, default="cpu")
    parser.add_argument("--batch-size", type=positive_int, default=4,
                        help="chunks per forward pass")
    add_scoring_options(parser)
    args, overrides = parser.parse_known_args(argv)
    if overrides and not args.config:
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    writable_folder(args.out)
    distinct_paths([("--ckpt", args.ckpt), ("--data", args.data), ("--base", args.base),
                    ("--perceptual", args.perceptual), ("--metrics", args.metrics)]
                   + [("--config", path) for path in args.config or []],
                   folders=[("--out", args.out)])
    if args.config:
        run = read_run(args.config, overrides)
        collection, metrics = run.collection, scoring_metrics(args, run.metrics)
    else:
        collection = MUSDB(args.data, args.is_wav) if args.musdb else StemsFolder(args.data)
        metrics = scoring_metrics(args)
    code = evaluate_checkpoint(args.ckpt, collection, args.out, args.split, not args.no_ema,
                               args.duration, metrics, args.device, args.batch_size,
                               args.write_estimates, args.overwrite, args.base)
    print_report(args.out / "results.md")
    return code
