"""``gansep make-data toy|sung-lyrics|ambiguous OUT``: write a built-in generated dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import (distinct_paths, in_range, natural_int, positive_float,
                                writable_folder)
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
pan_distance = in_range(float, 0, 0.5, what="a distance from the centre from 0 to 0.5")
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
                        help=f"Hz, {RATES[0]} to {RATES[1]} (default 22050)")
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
    ambiguous_options.add_argument("--backing-pan", type=pan_distance, nargs=2,
                                   metavar=("NEAR", "FAR"),
                                   help="the backing voice's distance from the centre of the "
                                        "stereo image, 0 (centre) to 0.5 (one side), drawn per "
                                        "track, its side by a coin (default: near the centre "
                                        "like the lead)")
    ambiguous_options.add_argument("--cue", choices=["none", "timbre"],
                                   help="timbre: the backing voice's timbre says where a phrase "
                                        "goes (the learnable control); none (default): it does "
                                        "not")
    ambiguous_options.add_argument("--stems", choices=["vocals-accompaniment", "lead-backing"],
                                   help="lead-backing: lead, backing and accompaniment as "
                                        "stems (no ambiguity)")
    ambiguous_options.add_argument(
        "--from", dest="source", type=Path, metavar="CONFIG_OR_ROOT",
        help="build the ambiguous layout from real stems instead of generating them: a run "
             "config whose collection has lead and backing stems (MoisesDB with stems: "
             "lead-backing) or a stems folder whose tracks hold lead.wav and backing.wav; "
             "backing phrases are the backing stem's active spans (energy gate: "
             "gansep.data.ambiguous.GATE)")
    parser.add_argument("--force", action="store_true", help="write even if OUT is not empty")
    args = parser.parse_args(argv)
    writable_folder(args.out, "out")
    if args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise ConfigError(f"{args.out}: exists and is not empty; nothing written (--force to "
                          "overwrite)")
    if args.source is not None:
        return _from_real_stems(args)
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
               "cue": args.cue, "stems": args.stems,
               "backing_pan": tuple(args.backing_pan) if args.backing_pan else None}
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value is not None]
    if args.kind == "ambiguous":
        extra = {name: value for name, value in options.items() if value is not None}
    elif given:
        raise ConfigError(f"{', '.join(given)}: options of the ambiguous dataset, not of "
                          f"{args.kind}")
    write(args.out, args.seed, args.sample_rate or 22050, args.duration or seconds, counts,
          **extra)
    return 0


def _collection_of(config: Path):
    """The track collection of a config's ``data.collection`` (a run config, or one holding
    only that section); ConfigError naming the file for anything else."""
    import yaml
    from jsonargparse import ArgumentParser

    from gansep.data.tracks import TrackCollection

    try:
        data = yaml.safe_load(config.read_text())
        spec = data["data"]["collection"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ConfigError(f"--from {config}: expected a run config with data.collection "
                          f"(class_path, init_args) ({type(error).__name__}: {error})") from None
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--collection", type=TrackCollection, required=True)
    try:
        return parser.instantiate_classes(parser.parse_object({"collection": spec})).collection
    except ConfigError:
        raise
    except Exception as error:  # jsonargparse's errors carry no common class
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ConfigError(f"--from {config}: data.collection: {' '.join(lines[:2])}") from None


def _from_real_stems(args) -> int:
    """``make-data ambiguous OUT --from CONFIG_OR_ROOT``: the ambiguous layout from a
    collection's real lead and backing stems."""
    from gansep.data import StemsFolder

    if args.kind != "ambiguous":
        raise ConfigError(f"--from: only the ambiguous dataset is built from real stems, not "
                          f"{args.kind}")
    generated = [name for name in ("sample_rate", "duration", "train", "valid", "test",
                                   "backing_db", "backing_pan", "cue", "stems")
                 if getattr(args, name) not in (None, False)] + (
        ["unpaired"] if args.unpaired else [])
    if generated:
        raise ConfigError(f"--from: {', '.join('--' + n.replace('_', '-') for n in generated)} "
                          "set(s) what is generated; with real stems the tracks, their rate "
                          "and length are the collection's")
    source = args.source
    distinct_paths([("--from", source)], folders=[("out", args.out)])
    if source.is_dir():
        collection = StemsFolder(source)
    elif source.is_file():
        collection = _collection_of(source)
    else:
        raise ConfigError(f"--from {source}: neither a run config nor a stems folder")
    ambiguous.ambiguous_from_collection(collection, args.out, args.seed,
                                        args.vocals_prob if args.vocals_prob is not None
                                        else 0.5, args.assign or "phrase", source=str(source))
    return 0
