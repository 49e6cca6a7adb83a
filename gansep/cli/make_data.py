"""``gansep make-data toy|sung-lyrics OUT``: write a built-in generated dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import in_range, natural_int, positive_float, writable_folder
from gansep.data import sung, toy
from gansep.errors import ConfigError

# kind: (writer, split sizes, seconds per track, shortest track that holds its content: a toy
# track's phrases need 1 s; a sung track an intro of up to 3 s and one sung line)
KINDS = {"toy": (toy.make_toy_dataset, toy.SPLIT_SIZES, 10.0, 1.0),
         "sung-lyrics": (sung.make_sung_dataset, sung.SPLITS, 20.0, 8.0)}
RATES = (8000, 192000)

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep make-data", description=(
        "Write a generated dataset in the stems layout: toy (MUSDB-HQ-style stems) or "
        "sung-lyrics (vocals sung by espeak-ng with exact line and word timings)."))
    parser.add_argument("kind", choices=list(KINDS), help="which dataset")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--seed", type=natural_int, default=0)
    parser.add_argument("--sample-rate", type=in_range(int, *RATES, what=f"a sample rate "
                                                       f"from {RATES[0]} to {RATES[1]} Hz"),
                        default=22050, help=f"Hz, {RATES[0]} to {RATES[1]} (default 22050)")
    parser.add_argument("--duration", type=positive_float,
                        help="seconds per track (toy 10, at least 1; sung-lyrics 20, at least "
                             "8)")
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
    write, sizes, seconds, shortest = KINDS[args.kind]
    if args.duration is not None and args.duration < shortest:
        raise ConfigError(f"--duration {args.duration:g}: a {args.kind} track needs at least "
                          f"{shortest:g} s (shorter ones would hold no phrase: silent or NaN "
                          "stems)")
    counts = {split: count if getattr(args, split) is None else getattr(args, split)
              for split, count in sizes.items()}
    extra = {"unpaired": args.unpaired} if args.kind == "toy" else {}
    if args.unpaired and args.kind != "toy":
        raise ConfigError("--unpaired: only the toy dataset has unpaired solo sources")
    write(args.out, args.seed, args.sample_rate, args.duration or seconds, counts, **extra)
    return 0
