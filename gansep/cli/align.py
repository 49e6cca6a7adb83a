"""Lyrics-to-audio alignment commands; arguments only, the work is in `gansep.eval.align`
(`align_file`) and `gansep.eval.alignment_metrics`
(`evaluate_alignment`):

- ``gansep align --model DIR AUDIO LYRICS.txt --out WORDS.csv [--lines LINES.csv]``
- ``gansep score-alignment REFERENCE_ROOT PREDICTIONS_DIR --out DIR [--tolerance 0.3]
  [--delay SECONDS]``
- ``gansep evaluate-alignment --model DIR (--data ROOT [--language L] | --config RUN.yaml
  [--key value ...] [--split S]) --out DIR``: aligns every song (of a run config's collection:
  its tracks with word timings) to ``OUT/predictions/<song>.csv``, then scores. Resumable: a song whose prediction is
  there is skipped, provided ``OUT/alignment.json`` says the same model made it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import device, distinct_paths, in_range, positive_int, writable_folder
from gansep.cli.runconfig import add_config_option, read_run
from gansep.cli.transcribe import load_lyrics_separator
from gansep.data.lyrics import alignment_songs
from gansep.data.tracks import SPLITS, alignment_songs_of
from gansep.errors import ConfigError
from gansep.eval.align import align_file
from gansep.eval.alignment_metrics import check_predictions, evaluate_alignment, score_alignments

log = logging.getLogger("gansep")
tolerance = in_range(float, 0, what="a tolerance in seconds > 0", low_inclusive=False)
delay = in_range(float, -3600, 3600, what="a delay in seconds")


def align_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep align", description=(
        "Align lyrics to a song with an exported multi-task separator (CTC forced alignment "
        "of the lyrics' characters on its lyrics head). Writes the words' timings in the "
        "JamendoLyrics format (word_start,word_end,line_end), one row per word of the lyrics "
        "in order."))
    parser.add_argument("audio", type=Path, help="the song (any format soundfile or ffmpeg "
                                                 "reads)")
    parser.add_argument("lyrics", type=Path, help="lyrics text: one sung line per line")
    parser.add_argument("--model", type=Path, required=True, help="export folder")
    parser.add_argument("--out", type=Path, required=True, help="words CSV to write")
    parser.add_argument("--lines", type=Path, help="also write line timings here "
                                                   "(start_time,end_time,lyrics_line)")
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--device", type=device, default="cpu")
    args = parser.parse_args(argv)
    distinct_paths([("audio", args.audio), ("lyrics", args.lyrics), ("--model", args.model)],
                   files=[("--out", args.out), ("--lines", args.lines)])
    for option, path in (("--out", args.out), ("--lines", args.lines)):
        if path is not None:
            writable_folder(path.parent, option)
            if path.is_dir():
                raise ConfigError(f"{option} {path}: is a folder, expected a CSV file name")
    separator = load_lyrics_separator(args.model, args.device, "align lyrics")
    aligned = align_file(separator, args.audio, args.lyrics, args.out, args.lines,
                         args.batch_size)
    log.info("%s: %d words in %d lines aligned -> %s", args.audio, len(aligned.words),
             len(aligned.lines), args.out)
    return 0


def score_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep score-alignment", description=(
        "Score word alignments against reference timings as JamendoLyrics' evaluation does: "
        "mean and median absolute word-onset error and the percentage of onsets within the "
        "tolerance, per song and averaged over songs. Writes alignment.csv, alignment.md and "
        "alignment-tolerance.png to --out."))
    parser.add_argument("reference", type=Path, help="a JamendoLyrics folder "
                        "(annotations/words/<song>.csv) or tracks with lyrics_words.csv")
    parser.add_argument("predictions", type=Path, help="a folder of <song>.csv word timings")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tolerance", type=tolerance, default=0.3)
    parser.add_argument("--delay", type=delay, default=0.0,
                        help="seconds added to every predicted onset before scoring")
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("reference", args.reference), ("predictions", args.predictions)],
                   folders=[("--out", args.out)])
    if not args.predictions.is_dir():
        raise ConfigError(f"{args.predictions}: no such folder of predictions")
    score_alignments(args.reference, args.predictions, args.out, args.tolerance, args.delay)
    print((args.out / "alignment.md").read_text(), end="")
    return 0


def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep evaluate-alignment", description=(
        "Align every song of a JamendoLyrics folder (or of generated sung-lyrics tracks) with "
        "an exported multi-task separator, then score the alignments (see gansep "
        "score-alignment). Resumable: songs already aligned by the same model are skipped."))
    parser.add_argument("--model", type=Path, required=True, help="export folder")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path,
                      help="JamendoLyrics folder, or stems tracks with lyrics_words.csv")
    add_config_option(data)
    parser.add_argument("--split", choices=SPLITS, default="test",
                        help="the run config's split to align (with --config)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--language", help="only this JamendoLyrics language (e.g. English)")
    parser.add_argument("--tolerance", type=tolerance, default=0.3)
    parser.add_argument("--delay", type=delay, default=0.0)
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--device", type=device, default="cpu")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace predictions made by another model")
    args, overrides = parser.parse_known_args(argv)
    if overrides and not args.config:
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    writable_folder(args.out)
    distinct_paths([("--model", args.model), ("--data", args.data)]
                   + [("--config", path) for path in args.config or []],
                   folders=[("--out", args.out)])
    check_predictions(args.out, args.overwrite)
    if args.config:
        if args.language is not None:
            raise ConfigError("--language filters a --data JamendoLyrics folder; with --config, "
                              "set the collection's language in the run config")
        collection = read_run(args.config, overrides).collection
        songs = alignment_songs_of(collection, args.split)
        data = {**collection.identity(), "split": args.split}
    else:
        songs = alignment_songs(args.data, args.language)
        data = str(args.data.resolve())
    separator = load_lyrics_separator(args.model, args.device, "align lyrics")
    code = evaluate_alignment(separator, songs, args.out, data, args.language, args.tolerance,
                              args.delay, args.batch_size, args.overwrite)
    if code:
        return code
    print((args.out / "alignment.md").read_text(), end="")
    return 0

