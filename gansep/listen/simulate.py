"""Simulated raters, for load tests, server tests and trying the analysis before real raters
come: each one opens a session through the HTTP API and submits every trial in its order,
rating each stimulus as a noisy function of its condition. Nothing here pretends to be a
listener: ratings from it are labelled simulated wherever they are reported."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def simulated_ratings(description: dict, trial_id: str, keys: list[str],
                      quality: Callable[[str, str], float], rng: np.random.Generator,
                      noise: float = 8.0) -> dict[str, int]:
    """``{key: rating}`` for one trial: ``quality(trial, condition)`` plus Gaussian noise,
    rounded and clipped to 0-100."""
    trial = next(t for t in description["trials"] if t["id"] == trial_id)
    condition = {s["key"]: s["condition"] for s in trial["stimuli"]}
    return {key: int(np.clip(round(quality(trial_id, condition[key])
                                   + rng.normal(0, noise)), 0, 100)) for key in keys}


def run_rater(post: Callable[[str, dict], tuple[int, dict]], description: dict,
              quality: Callable[[str, str], float], rng: np.random.Generator,
              noise: float = 8.0, trials: int | None = None,
              think: float = 0.0) -> list[dict]:
    """One simulated rater: opens a session with ``post(path, body) -> (status, json)``,
    submits ``trials`` (all by default) trials in its order, pausing a random 0 to
    ``2 * think`` seconds before each. Returns one record per submission: trial, status,
    seconds, and the ratings sent by condition."""
    status, session = post("/api/session", {"rater": None})
    if status != 200:
        raise RuntimeError(f"session refused: {status} {session}")
    conditions = {t["id"]: {s["key"]: s["condition"] for s in t["stimuli"]}
                  for t in description["trials"]}
    records = []
    for trial_id in session["trial_order"][:trials]:
        keys = session["stimulus_order"][trial_id]
        ratings = simulated_ratings(description, trial_id, keys, quality, rng, noise)
        body = {"rater": session["rater"], "session": session["session"], "trial": trial_id,
                "ratings": ratings, "order": keys, "played": keys,
                "time_on_page_ms": float(rng.uniform(20e3, 90e3))}
        if think:
            time.sleep(rng.uniform(0, 2 * think))
        start = time.perf_counter()
        status, _ = post("/api/ratings", body)
        records.append({"rater": session["rater"], "trial": trial_id, "status": status,
                        "seconds": time.perf_counter() - start,
                        "ratings": {conditions[trial_id][k]: v for k, v in ratings.items()}})
    return records
