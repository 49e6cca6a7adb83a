"""``gansep make-data toy OUT``: write the built-in generated dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import natural_int, positive_float, positive_int, writable_folder
from gansep.data.toy import SPLIT_SIZES, make_toy_dataset
from gansep.errors import ConfigError

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep make-data",
                                     description="Write a generated MUSDB-HQ-style dataset.")
    parser.add_argument("kind", choices=["toy"], help="which dataset")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--seed", type=natural_int, default=0)
    parser.add_argument("--sample-rate", type=positive_int, default=22050)
    parser.add_argument("--duration", type=positive_float, default=10.0,
                        help="seconds per track")
    for split, count in SPLIT_SIZES.items():
        parser.add_argument(f"--{split}", type=natural_int, default=count,
                            help=f"{split} tracks")
    parser.add_argument("--unpaired", type=natural_int, default=0,
                        help="also write this many unpaired solo vocals and accompaniments "
                             "(OUT/unpaired/, for semi-supervised training)")
    parser.add_argument("--force", action="store_true", help="write even if OUT is not empty")
    args = parser.parse_args(argv)
    writable_folder(args.out, "out")
    if args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise ConfigError(f"{args.out}: exists and is not empty; nothing written (--force to "
                          "overwrite)")
    make_toy_dataset(args.out, args.seed, args.sample_rate, args.duration,
                     {split: getattr(args, split) for split in SPLIT_SIZES}, args.unpaired)
    return 0
