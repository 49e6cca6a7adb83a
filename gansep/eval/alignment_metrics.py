"""Scoring lyrics alignments as JamendoLyrics' evaluation script does (Stoller, Durand & Ewert,
2019; f90/jamendolyrics ``Evaluate.py``), on word onsets:

- the predicted onsets are shifted by ``delay`` seconds (negative results become 0);
- per song: the mean and the median absolute onset error, and the percentage of onsets whose
  error is under the tolerance (strictly, as Mauch et al.'s metric there);
- over songs (the ``all`` row): each of those averaged over songs (not over words).

``score_alignments`` writes ``alignment.csv`` (``song,words,mean_abs_error,median_abs_error,
percent_correct_onsets``; the last row's song is ``all``), ``alignment.md`` and
``alignment-tolerance.png`` (the percentage against tolerances of 0.1-1.0 s, as the dataset's
Mauch figures), every file written atomically.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

from gansep.atomic import atomic_target, write_json_atomic
from gansep.checkpoints import DIGEST
from gansep.data.audio import DataError
from gansep.data.lyrics import read_words, reference_words
from gansep.errors import ConfigError
from gansep.eval.align import align_file
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)

COLUMNS = ("song", "words", "mean_abs_error", "median_abs_error", "percent_correct_onsets")
TOLERANCES = np.round(np.linspace(0.1, 1.0, 10), 2)


def onset_errors(reference: np.ndarray, predicted: np.ndarray, delay: float = 0.0
                 ) -> np.ndarray:
    """Predicted minus reference onsets (seconds), the predictions shifted by ``delay`` and
    kept at or after 0."""
    return np.maximum(np.asarray(predicted, dtype=np.float64) + delay, 0.0) - reference


def song_scores(errors: np.ndarray, tolerance: float) -> dict[str, float]:
    """One song's row: word count, mean and median absolute error, % within ``tolerance``."""
    absolute = np.abs(errors)
    return {"words": len(errors), "mean_abs_error": float(absolute.mean()),
            "median_abs_error": float(np.median(absolute)),
            "percent_correct_onsets": float(100 * np.mean(absolute < tolerance))}


def overall(rows: list[dict]) -> dict:
    """The ``all`` row: words summed, every metric averaged over songs."""
    return {"song": "all", "words": sum(r["words"] for r in rows),
            **{key: float(np.mean([r[key] for r in rows])) for key in COLUMNS[2:]}}


def song_errors(references: dict[str, Path], predictions: Path, delay: float = 0.0
                ) -> dict[str, np.ndarray]:
    """Onset errors of every reference song's prediction ``predictions/<song>.csv``;
    DataError naming every song with a missing or unreadable prediction or a wrong number of
    words."""
    predictions = Path(predictions)
    missing = [song for song in references if not (predictions / f"{song}.csv").is_file()]
    if missing:
        raise DataError(f"{predictions}: no prediction for {len(missing)} song(s): "
                        f"{', '.join(missing)} (expected <song>.csv)")
    errors, problems = {}, []
    for song, path in references.items():
        predicted_path = predictions / f"{song}.csv"
        try:
            reference = np.array([w.start for w in read_words(path)])
            predicted = np.array([w.start for w in read_words(predicted_path)])
        except DataError as error:
            problems.append(str(error))
            continue
        if len(reference) == 0:
            problems.append(f"{path}: song {song} has no word to score")
        elif len(predicted) != len(reference):
            problems.append(f"{predicted_path}: {len(predicted)} word(s) predicted for song "
                            f"{song}, its reference {path} has {len(reference)}")
        else:
            errors[song] = onset_errors(reference, predicted, delay)
    if problems:
        raise DataError(f"{len(problems)} song(s) cannot be scored; nothing written:\n  "
                        + "\n  ".join(problems))
    return errors


def tolerance_curve(errors: dict[str, np.ndarray], tolerances=TOLERANCES) -> np.ndarray:
    """The percentage of correct onsets (averaged over songs) at each tolerance."""
    return np.array([np.mean([100 * np.mean(np.abs(e) < t) for e in errors.values()])
                     for t in tolerances])


def markdown(rows: list[dict], tolerance: float, delay: float) -> str:
    lines = [f"Word-onset alignment ({len(rows) - 1} song(s); tolerance {tolerance:g} s, delay "
             f"{delay:g} s; the `all` row averages over songs)", "",
             "| song | words | mean abs. error (s) | median abs. error (s) | onsets within "
             f"{tolerance:g} s (%) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['song']} | {r['words']} | {r['mean_abs_error']:.3f} | "
              f"{r['median_abs_error']:.3f} | {r['percent_correct_onsets']:.1f} |" for r in rows]
    return "\n".join(lines) + "\n"


def _plot(path: Path, curve: np.ndarray) -> None:
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(TOLERANCES, curve, marker="o")
    axes.set_xlabel("tolerance (s)")
    axes.set_ylabel("onsets within tolerance (%)")
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def score_alignments(references: Path | dict[str, Path], predictions: Path, out: Path,
                     tolerance: float = 0.3, delay: float = 0.0) -> list[dict]:
    """Scores ``predictions/<song>.csv`` against reference word timings: ``{song: words
    file}``, or the folder `gansep.data.lyrics.reference_words` reads them from. Writes
    the files of the module docstring under ``out`` and returns the rows (the ``all`` row
    last)."""
    if not isinstance(references, dict):
        references = reference_words(references)
    errors = song_errors(references, predictions, delay)
    rows = [{"song": song, **song_scores(e, tolerance)} for song, e in errors.items()]
    rows.append(overall(rows))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_target(out / "alignment.csv") as tmp, open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows([{**r, **{k: f"{r[k]:.6f}" for k in COLUMNS[2:]}} for r in rows])
    signed = np.concatenate(list(errors.values()))
    curve = tolerance_curve(errors)
    with atomic_target(out / "alignment.md") as tmp:
        Path(tmp).write_text(
            markdown(rows, tolerance, delay)
            + f"\nSigned onset error over all words: mean {signed.mean():+.3f} s, median "
            f"{np.median(signed):+.3f} s (positive: predictions late; a --delay measured on a "
            "validation split compensates a model's lag)\n"
            + "\n| tolerance (s) | " + " | ".join(f"{t:g}" for t in TOLERANCES)
            + " |\n|---|" + "---:|" * len(TOLERANCES) + "\n| onsets within (%) | "
            + " | ".join(f"{p:.1f}" for p in curve) + " |\n")
    _plot(out / "alignment-tolerance.png", curve)
    return rows


# ------------------------------------------------------- aligning and scoring a dataset
MANIFEST = "alignment.json"  # which model, data and options made OUT/predictions/


def check_predictions(out: Path, overwrite: bool) -> None:
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
        check_predictions(out, overwrite)
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


def evaluate_alignment(separator, songs: list, out: Path, data, language: str | None = None,
                       tolerance: float = 0.3, delay: float = 0.0, batch_size: int = 1,
                       overwrite: bool = False) -> int:
    """Aligns every song (`AlignmentSong`) with ``separator`` to
    ``out/predictions/<song>.csv`` (atomically, one song at a time), then scores them
    (`score_alignments`). Resumable: a song already aligned is skipped, provided
    ``out/alignment.json`` records the same model, ``data`` and ``language``; other
    predictions are refused (ConfigError) unless ``overwrite``. Returns 1, scoring nothing,
    when a song could not be aligned; else 0."""
    wanted = {"model": separator.config.get(DIGEST), "data": data, "language": language}
    _check_manifest(out, wanted, overwrite)
    predictions = out / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / MANIFEST, wanted)
    failed = []
    for song in songs:
        target = predictions / f"{song.name}.csv"
        if target.is_file():
            log.info("%s: aligned before, skipped", song.name)
            continue
        try:
            align_file(separator, song.audio, song.lyrics, target,
                       predictions / f"{song.name}.lines.csv", batch_size)
        except DataError as error:
            log.error("%s: %s", song.name, error)
            failed.append(song.name)
            continue
        log.info("%s: aligned", song.name)
    if failed:
        log.error("%d song(s) could not be aligned: %s; nothing scored", len(failed),
                  ", ".join(failed))
        return 1
    score_alignments({song.name: song.words for song in songs}, predictions, out, tolerance,
                     delay)
    return 0
