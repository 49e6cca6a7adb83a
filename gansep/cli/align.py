"""Lyrics-to-audio alignment commands (the work is in :mod:`gansep.eval.align` and
:mod:`gansep.eval.alignment_metrics`):

- ``gansep align --model DIR AUDIO LYRICS.txt --out WORDS.csv [--lines LINES.csv]``
- ``gansep score-alignment REFERENCE_ROOT PREDICTIONS_DIR --out DIR [--tolerance 0.3]
  [--delay SECONDS]``
- ``gansep evaluate-alignment --model DIR --data ROOT --out DIR [--language L]``: aligns every
  song to ``OUT/predictions/<song>.csv``, then scores. Resumable: a song whose prediction is
  there is skipped, provided ``OUT/alignment.json`` says the same model made it.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path


from gansep.cli.options import device, distinct_paths, in_range, positive_int, writable_folder
from gansep.cli.transcribe import load_lyrics_separator
from gansep.data.audio import DataError, read_checked
from gansep.data.lyrics import alignment_songs, write_lines, write_words
from gansep.errors import ConfigError
from gansep.eval.align import AlignmentError, align_audio, lyrics_lines
from gansep.eval.alignment_metrics import score_alignments
from gansep.eval.results import write_json_atomic
from gansep.export import DIGEST

log = logging.getLogger("gansep")
MANIFEST = "alignment.json"
tolerance = in_range(float, 0, what="a tolerance in seconds > 0", low_inclusive=False)
delay = in_range(float, -3600, 3600, what="a delay in seconds")


def _read_lyrics(path: Path) -> list[list[str]]:
    try:
        lines = lyrics_lines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the lyrics ({error})") from None
    if not lines:
        raise DataError(f"{path}: the lyrics hold no word")
    return lines


def align_file(separator, audio_path: Path, lyrics_path: Path, words_out: Path,
               lines_out: Path | None = None, batch_size: int = 1):
    """Aligns one song and writes its word (and line) timings atomically."""
    lines = _read_lyrics(lyrics_path)
    audio, rate = read_checked(audio_path, truncated="warn")
    try:
        aligned = align_audio(separator, audio, rate, lines, batch_size)
    except AlignmentError as error:
        raise AlignmentError(f"{audio_path} with {lyrics_path}: {error}") from None
    if lines_out is not None:  # the words file last: its presence marks a finished song
        write_lines(lines_out, aligned.lines)
    write_words(words_out, aligned.words)
    return aligned


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


def _orphans(out: Path, overwrite: bool) -> None:
    """Refuses predictions in ``out`` without the manifest that says whose they are (they
    are never adopted as this model's) unless ``overwrite``."""
    earlier = sorted((out / "predictions").glob("*.csv"))
    if earlier and not (out / MANIFEST).is_file() and not overwrite:
        raise ConfigError(f"{out}: holds {len(earlier)} prediction(s) (e.g. {earlier[0]}) "
                          f"but no {MANIFEST} saying which model, data and options made them; "
                          "nothing aligned (use another --out, or --overwrite to align every "
                          "song again)")


def _check_manifest(out: Path, wanted: dict, overwrite: bool) -> None:
    path = out / MANIFEST
    if not path.is_file():
        _orphans(out, overwrite)
        for prediction in (out / "predictions").glob("*.csv"):
            prediction.unlink()
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = None
    if stored != wanted and not overwrite:
        raise ConfigError(f"{path}: the predictions in {out} came from another model, data or "
                          "options; nothing aligned (use another --out, or --overwrite)")
    if stored != wanted:
        for prediction in (out / "predictions").glob("*.csv"):
            prediction.unlink()


def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep evaluate-alignment", description=(
        "Align every song of a JamendoLyrics folder (or of generated sung-lyrics tracks) with "
        "an exported multi-task separator, then score the alignments (see gansep "
        "score-alignment). Resumable: songs already aligned by the same model are skipped."))
    parser.add_argument("--model", type=Path, required=True, help="export folder")
    parser.add_argument("--data", type=Path, required=True,
                        help="JamendoLyrics folder, or stems tracks with lyrics_words.csv")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--language", help="only this JamendoLyrics language (e.g. English)")
    parser.add_argument("--tolerance", type=tolerance, default=0.3)
    parser.add_argument("--delay", type=delay, default=0.0)
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--device", type=device, default="cpu")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace predictions made by another model")
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("--model", args.model), ("--data", args.data)],
                   folders=[("--out", args.out)])
    _orphans(args.out, args.overwrite)
    songs = alignment_songs(args.data, args.language)
    separator = load_lyrics_separator(args.model, args.device, "align lyrics")
    wanted = {"model": separator.config.get(DIGEST), "data": str(args.data.resolve()),
              "language": args.language}
    _check_manifest(args.out, wanted, args.overwrite)
    predictions = args.out / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / MANIFEST, wanted)
    failed = []
    for song in songs:
        target = predictions / f"{song.name}.csv"
        if target.is_file():
            log.info("%s: aligned before, skipped", song.name)
            continue
        try:
            align_file(separator, song.audio, song.lyrics, target,
                       predictions / f"{song.name}.lines.csv", args.batch_size)
        except DataError as error:
            log.error("%s: %s", song.name, error)
            failed.append(song.name)
            continue
        log.info("%s: aligned", song.name)
    if failed:
        log.error("%d song(s) could not be aligned: %s; nothing scored", len(failed),
                  ", ".join(failed))
        return 1
    score_alignments({song.name: song.words for song in songs}, predictions, args.out,
                     args.tolerance, args.delay)
    print((args.out / "alignment.md").read_text(), end="")
    return 0

