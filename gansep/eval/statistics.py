"""The statistics gansep's comparisons report: bootstrap intervals (plain, and over nested
groups: phrases in tracks in seeds), Holm's correction for testing many objectives (or
conditions) against one another or one baseline, and the matched-pairs rank-biserial
correlation, the effect size of the Wilcoxon signed-rank test."""

from __future__ import annotations

import warnings

import numpy as np


def bootstrap_ci(values, statistic=np.mean, seed: int = 0, n_resamples: int = 9999,
                 confidence: float = 0.95, method: str = "BCa") -> tuple[float, float]:
    """``confidence`` bootstrap interval of ``statistic`` (scipy.stats.bootstrap); a degenerate
    sample (one value, or all equal) gives the statistic itself at both ends."""
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    point = float(statistic(values))
    if len(values) < 2 or np.all(values == values[0]):
        return point, point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = bootstrap((values,), statistic, n_resamples=n_resamples,
                           confidence_level=confidence, method=method,
                           random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)) and method != "percentile":
        return bootstrap_ci(values, statistic, seed, n_resamples, confidence, "percentile")
    return float(low), float(high)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the given order; a NaN
    p-value (no test) stays NaN and does not count in the family."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    running = 0.0
    for rank, index in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (len(tested) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def rank_biserial(differences) -> float:
    """The matched-pairs rank-biserial correlation of paired ``differences`` (Kerby, 2014):
    the share of the ranked absolute differences that favour the positive side minus the
    share that favour the negative, from -1 to 1 (zero differences left out, as the Wilcoxon
    test leaves them; NaN when none is left)."""
    from scipy.stats import rankdata

    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if not len(d):
        return float("nan")
    ranks = rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def hierarchical_bootstrap(groups: dict, statistic, n_resamples: int = 2000, seed: int = 0,
                           confidence: float = 0.95) -> tuple[float, float, float]:
    """``(point, low, high)``: ``statistic`` of all items pooled and its percentile interval
    when the items are nested, ``groups = {run: {track: [items]}}`` (phrases in tracks in
    seeds): each resample draws the runs with replacement and, within each drawn run, its
    tracks with replacement, so that phrases of one track (and tracks of one seed) are not
    taken for independent draws. One run: tracks alone are resampled."""
    rng = np.random.default_rng(seed)
    runs = [list(tracks.values()) for tracks in groups.values() if tracks]
    pooled = [item for tracks in runs for items in tracks for item in items]
    if not pooled:
        return float("nan"), float("nan"), float("nan")
    point = float(statistic(pooled))
    values = []
    for _ in range(n_resamples):
        sample = []
        for index in (rng.integers(0, len(runs), len(runs)) if len(runs) > 1 else [0]):
            tracks = runs[index]
            for track in rng.integers(0, len(tracks), len(tracks)):
                sample.extend(tracks[track])
        values.append(statistic(sample))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return point, float(low), float(high)
