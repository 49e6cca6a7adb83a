"""Scale-invariant SDR (Le Roux, Wisdom, Erdogan & Hershey, 2019) of whole signals."""

from __future__ import annotations

import numpy as np


def si_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-8) -> float:
    """SI-SDR in dB of one source over the whole signal, channels concatenated, means removed.
    NaN when the reference or the estimate is silent (undefined, as BSSEval leaves silent
    frames: a silent estimate would otherwise score 0 dB, better than most bad estimates)."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = (reference - reference.mean(-1, keepdims=True)).ravel()
    estimate = (estimate - estimate.mean(-1, keepdims=True)).ravel()
    energy = np.dot(reference, reference)
    if energy == 0 or not np.any(estimate):
        return float("nan")
    target = np.dot(estimate, reference) / energy * reference
    residual = estimate - target
    return float(10 * np.log10((target @ target + eps) / (residual @ residual + eps)))
