"""``gansep make-data toy|sung-lyrics|ambiguous OUT``: write a built-in generated dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import in_range, natural_int, positive_float, writable_folder
from gansep.data import ambiguous, sung, toy
from gansep.errors import ConfigError

# kind: (writer, split sizes, seconds per track, shortest track that holds its content: a toy
# track's phrases need 1 s; a sung track an intro of up to 3 s and one sung line; an ambiguous
# track some backing phrases)
KINDS = {"toy": (toy.make_toy_dataset, toy.SPLIT_SIZES, 10.0, 1.0),
         "sung-lyrics": (sung.make_sung_dataset, sung.SPLITS, 20.0, 8.0),
         "ambiguous": (ambiguous.make_ambiguous_dataset, toy.SPLIT_SIZES, 10.0, 4.0)}
probability = in_range(float, 0, 1, what="a probability from 0 to 1")
decibels = in_range(float, -60, 20, what="a level in dB from -60 to 20")
RATES = (8000, 192000)

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep make-data", description=(
        "Write a generated dataset in the stems layout: toy (MUSDB-HQ-style stems), "
        "sung-lyrics (vocals sung by espeak-ng with exact line and word timings) or ambiguous "
        "(a lead and a backing vocal, each backing phrase assigned by a seeded draw to vocals "
        "or to accompaniment)."))
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
    ambiguous_options = parser.add_argument_group("ambiguous data (see gansep.data.ambiguous)")
    ambiguous_options.add_argument("--vocals-prob", type=probability,
                                   help="probability that a backing phrase is assigned to "
                                        "vocals (default 0.5)")
    ambiguous_options.add_argument("--assign", choices=["phrase", "track"],
                                   help="draw the assignment per phrase (default) or per track")
    ambiguous_options.add_argument("--backing-db", type=decibels, nargs=2,
                                   metavar=("LOW", "HIGH"),
                                   help="backing level relative to the lead, dB (default -12 -3)")
    ambiguous_options.add_argument("--cue", choices=["none", "timbre"],
                                   help="timbre: the backing voice's timbre says where a phrase "
                                        "goes (the learnable control); none (default): it does "
                                        "not")
    ambiguous_options.add_argument("--stems", choices=["vocals-accompaniment", "lead-backing"],
                                   help="lead-backing: lead, backing and accompaniment as "
                                        "stems (no ambiguity)")
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
    options = {"vocals_prob": args.vocals_prob, "assign": args.assign,
               "backing_db": tuple(args.backing_db) if args.backing_db else None,
               "cue": args.cue, "stems": args.stems}
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value is not None]
    if args.kind == "ambiguous":
        extra = {name: value for name, value in options.items() if value is not None}
    elif given:
        raise ConfigError(f"{', '.join(given)}: options of the ambiguous dataset, not of "
                          f"{args.kind}")
    write(args.out, args.seed, args.sample_rate, args.duration or seconds, counts, **extra)
    return 0
