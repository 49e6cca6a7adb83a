"""``gansep listen metrics``: the objective metrics of every rated stimulus, each on its exact
excerpt, so they can be set against the ratings (`gansep.listen.analysis`).

Every stimulus is scored on the separator's own scale: the loudness gain of the build (recorded
in ``test.json``) is undone, so L1 and the STFT distance are those a training run would see.
BSSEval v4 (as museval, 1 s frames, median over frames) scores the stimulus against the
excerpt's reference source and interference (the other stems), so SIR is defined. The hidden
reference is not listed: it equals the reference (SDR infinite, distances 0).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from gansep.atomic import atomic_target, sha256_file
from gansep.data.audio import DataError, read_checked
from gansep.eval.bsseval import median_over_frames
from gansep.eval.metrics import L1, MRSTFT, SISDR, BSSEval, compute
from gansep.listen.build import REFERENCE, listed_file, load_test, rated_trials, served_files

log = logging.getLogger(__name__)

#: What every stimulus is scored by (one metric object each, as every gansep table scores).
STIMULUS_METRICS = (BSSEval(), SISDR(), MRSTFT(), L1())
METRICS = ("SDR", "SIR", "SAR", "ISR", "SI-SDR", "MRSTFT", "L1")  # the CSV's column order


def _read_checked(test_dir: Path, entry: dict) -> np.ndarray:
    path = listed_file(test_dir, entry["file"], "file")
    if sha256_file(path) != entry["sha256"]:
        raise DataError(f"{path}: SHA-256 differs from test.json's: the file changed after "
                        "the test was built")
    return read_checked(path)[0].astype(np.float64)


def bsseval_metrics(reference: np.ndarray, interference: np.ndarray, estimate: np.ndarray,
                    rate: int) -> dict[str, float]:
    """SDR, SIR, SAR, ISR of ``estimate`` (BSSEval v4, 1 s frames, median over frames), the
    other stems ``interference`` scored with it so that SIR is defined."""
    return stimulus_metrics(reference, interference, estimate, rate, (BSSEval(),))


def stimulus_metrics(reference: np.ndarray, interference: np.ndarray, estimate: np.ndarray,
                     rate: int, metrics=STIMULUS_METRICS) -> dict[str, float]:
    """The ``metrics`` of ``estimate`` against ``reference`` (all ``(channels, time)``),
    ``interference`` being the other stems over the same span: scored as a second source, so
    that SIR is defined (its own values are dropped). Framewise values: median over frames."""
    values = compute(list(metrics), np.stack([reference, interference]),
                     np.stack([estimate, interference]), rate)
    return {name: float(median_over_frames(value[:1])[0] if value.ndim == 2 else value[0])
            for name, value in values.items()}


def rated_stimuli(test_dir: Path):
    """``(trial id, condition, reference, interference, estimate, rate)`` of every rated
    stimulus but the hidden reference, the estimate on the separator's scale (the build's
    loudness gain undone); each file's SHA-256 is checked against ``test.json``."""
    test_dir = Path(test_dir)
    description = load_test(test_dir)
    served_files(test_dir, description)  # nothing listed may lead outside the test folder
    rate = description["rate"]
    for trial in rated_trials(description):
        reference = _read_checked(test_dir, trial["excerpts"]["reference"])
        interference = _read_checked(test_dir, trial["excerpts"]["interference"])
        for stimulus in trial["stimuli"]:
            if stimulus["condition"] == REFERENCE:
                continue
            estimate = _read_checked(test_dir, stimulus) / stimulus["gain"]
            yield trial["id"], stimulus["condition"], reference, interference, estimate, rate


def compute_metrics(test_dir: Path) -> list[dict]:
    """One row ``{trial, condition, <metric>...}`` per rated stimulus but the hidden
    reference."""
    return [{"trial": trial, "condition": condition,
             **stimulus_metrics(reference, interference, estimate, rate)}
            for trial, condition, reference, interference, estimate, rate
            in rated_stimuli(test_dir)]


def write_metrics(test_dir: Path, out: Path) -> list[dict]:
    """Writes `compute_metrics` as CSV (atomically)."""
    rows = compute_metrics(test_dir)
    with atomic_target(out) as tmp, open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, ["trial", "condition", *METRICS])
        writer.writeheader()
        writer.writerows(rows)
    log.info("wrote %s: %d stimuli x %d metrics", out, len(rows), len(METRICS))
    return rows
