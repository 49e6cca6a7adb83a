"""``gansep make-data toy|sung-lyrics OUT``: write a built-in generated dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import natural_int, positive_float, positive_int, writable_folder
from gansep.data import sung, toy
from gansep.errors import ConfigError

# kind: (writer, split sizes, seconds per track)
KINDS = {"toy": (toy.make_toy_dataset, toy.SPLIT_SIZES, 10.0),
         "sung-lyrics": (sung.make_sung_dataset, sung.SPLITS, 20.0)}

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep make-data", description=(
        "Write a generated dataset in the stems layout: toy (MUSDB-HQ-style stems) or "
        "sung-lyrics (vocals sung by espeak-ng with exact line and word timings)."))
    parser.add_argument("kind", choices=list(KINDS), help="which dataset")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--seed", type=natural_int, default=0)
    parser.add_argument("--sample-rate", type=positive_int, default=22050)
    parser.add_argument("--duration", type=positive_float,
                        help="seconds per track (toy 10, sung-lyrics 20)")
    for split in toy.SPLIT_SIZES:
        parser.add_argument(f"--{split}", type=natural_int, help=f"{split} tracks (toy "
                            f"{toy.SPLIT_SIZES[split]}, sung-lyrics {sung.SPLITS[split]})")
    parser.add_argument("--unpaired", type=natural_int, default=0,
                        help="also write this many unpaired solo vocals and accompaniments "
                             "(OUT/unpaired/, for semi-supervised training)")
    parser.add_argument("--force", action="store_true", help="write even if OUT is not empty")
    args = parser.parse_args(argv)
    writable_folder(args.out, "out")
    if args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise ConfigError(f"{args.out}: exists and is not empty; nothing written (--force to "
                          "overwrite)")
    write, sizes, seconds = KINDS[args.kind]
    counts = {split: count if getattr(args, split) is None else getattr(args, split)
              for split, count in sizes.items()}
    extra = {"unpaired": args.unpaired} if args.kind == "toy" else {}
    if args.unpaired and args.kind != "toy":
        raise ConfigError("--unpaired: only the toy dataset has unpaired solo sources")
    write(args.out, args.seed, args.sample_rate, args.duration or seconds, counts, **extra)
    return 0
