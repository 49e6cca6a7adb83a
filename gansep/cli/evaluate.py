"""``gansep evaluate`` (separate and score a test split with a checkpoint) and ``gansep score``
(score any separator's outputs): arguments only; the work is :mod:`gansep.eval.evaluate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from gansep.cli.options import (device, distinct_paths, positive_float, positive_int,
                                 writable_folder)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--backend", choices=["fast", "museval"], default="fast",
                        help="BSSEval v4 implementation (default: fast)")
    parser.add_argument("--window", type=positive_float, default=1.0,
                        help="frame length, seconds")
    parser.add_argument("--hop", type=positive_float, default=1.0, help="frame hop, seconds")
    parser.add_argument("--overwrite", action="store_true",
                        help="score again the tracks whose stored results came from another "
                             "checkpoint, data or options (by default such a rerun is refused)")
    parser.add_argument("--perceptual", type=Path, metavar="DIR",
                        help="also report the perceptual score fitted by gansep listen "
                             "fit-objective (DIR holds perceptual.json)")


def _perceptual(args):
    from gansep.eval.perceptual import PerceptualScore

    return PerceptualScore(args.perceptual) if args.perceptual is not None else None


def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep evaluate", description=(
        "Separate every track of a test split with a checkpoint's generator and score it."))
    parser.add_argument("--ckpt", type=Path, required=True, help="gansep training checkpoint")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: a stems folder (<root>/<split>/<track>/) or MUSDB")
    parser.add_argument("--musdb", action="store_true", help="--data is MUSDB18 (musdb.DB)")
    parser.add_argument("--is-wav", action="store_true", help="MUSDB18-HQ (with --musdb)")
    parser.add_argument("--split", choices=["train", "valid", "test"], default="test")
    parser.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA copy")
    parser.add_argument("--write-estimates", action="store_true",
                        help="also write OUT/estimates/<track>/<source>.wav")
    parser.add_argument("--duration", type=positive_float, help="score only the first seconds")
    parser.add_argument("--device", type=device, default="cpu")
    parser.add_argument("--batch-size", type=positive_int, default=4,
                        help="chunks per forward pass")
    _common(parser)
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("--ckpt", args.ckpt), ("--data", args.data),
                    ("--perceptual", args.perceptual)], folders=[("--out", args.out)])

    from gansep.data.folder import StemsFolder
    from gansep.data.musdb import MUSDB
    from gansep.eval.evaluate import evaluate_checkpoint

    collection = MUSDB(args.data, args.is_wav) if args.musdb else StemsFolder(args.data)
    return evaluate_checkpoint(args.ckpt, collection, args.out, args.split, not args.no_ema,
                               args.duration, args.backend, args.window, args.hop, args.device,
                               args.batch_size, args.write_estimates, args.overwrite,
                               _perceptual(args))


def score_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep score", description=(
        "Score any separator's outputs: ESTIMATE_DIR/<track>/<source>.<ext> against "
        "REFERENCE_DIR/<track>/<stem>.<ext>. A source that is not a reference stem (e.g. "
        "accompaniment) is scored against the sum of the other stems."))
    parser.add_argument("references", type=Path, help="folder of track folders of stems")
    parser.add_argument("estimates", type=Path, help="folder of track folders of estimates")
    parser.add_argument("--sources", nargs="+", metavar="NAME",
                        help="the sources to score (default: the estimates' file names, when "
                             "each is a reference stem but at most one rest source such as "
                             "accompaniment, the sum of the stems not estimated)")
    _common(parser)
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("references", args.references), ("estimates", args.estimates),
                    ("--perceptual", args.perceptual)], folders=[("--out", args.out)])

    from gansep.eval.evaluate import score_folders

    return score_folders(args.references, args.estimates, args.out, args.backend, args.window,
                         args.hop, args.overwrite, _perceptual(args), args.sources)
