"""Scale-invariant SDR (Le Roux, Wisdom, Erdogan & Hershey, 2019) of whole signals."""

from __future__ import annotations

import numpy as np


def si_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-8) -> float:
    """SI-SDR in dB of one source over the whole signal, channels concatenated, means removed.
    NaN when the reference or the estimate is silent (undefined, as BSSEval leaves silent
    frames: a silent estimate would otherwise score 0 dB, better than most bad estimates).

    ``eps`` is relative to the estimate's energy, added to both energies of the ratio: the
    value is exactly invariant to scaling the estimate, or both signals, by any factor (an
    absolute epsilon, as torchmetrics' ``eps``, pulls quiet signals toward 0 dB), and a
    perfect estimate scores ``10 log10(1 + 1/eps)`` (80 dB) rather than infinity."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = (reference - reference.mean(-1, keepdims=True)).ravel()
    estimate = (estimate - estimate.mean(-1, keepdims=True)).ravel()
    energy = np.dot(reference, reference)
    if energy == 0 or not np.any(estimate):
        return float("nan")
    target = np.dot(estimate, reference) / energy * reference
    residual = estimate - target
    floor = eps * np.dot(estimate, estimate)
    return float(10 * np.log10((target @ target + floor) / (residual @ residual + floor)))
