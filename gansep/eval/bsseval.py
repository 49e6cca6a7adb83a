"""BSSEval v4 metrics (SDR, ISR, SIR, SAR) as museval computes them, with three backends:
``fast`` (gansep's vectorised numpy implementation, equal to museval's to float rounding),
``torch`` (the same arithmetic in float64 torch, on any device) and ``museval`` (the reference
implementation itself)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from gansep.eval.fast_bsseval import bss_eval_v4

METRICS = ("SDR", "ISR", "SIR", "SAR")


def bss_eval(references: np.ndarray, estimates: np.ndarray, rate: int, window: float = 1.0,
             hop: float = 1.0,
             backend: Literal["fast", "torch", "museval"] = "fast",
             device: str | None = None) -> dict[str, np.ndarray]:
    """Framewise BSSEval v4, as ``museval.evaluate(..., win, hop)`` (SiSEC 2018).

    Args:
        references, estimates: ``(sources, channels, time)``; estimates are zero-padded or cut
            to the references' length.
        rate: sample rate in Hz; ``window`` and ``hop`` are in seconds.
        backend: ``fast``, ``torch`` or ``museval``.
        device: where the ``torch`` backend computes (default: the CPU).

    Returns:
        ``{metric: (sources, frames)}``; NaN in frames where a reference or an estimate is
        silent.
    """
    if backend == "torch":
        from gansep.eval.torch_bsseval import bss_eval_v4 as torch_v4
    else:
        references, estimates = np.asarray(references), np.asarray(estimates)
    if references.ndim != 3 or estimates.ndim != 3 or references.shape[:2] != estimates.shape[:2]:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape} must "
                         "both be (sources, channels, time) with the same sources and channels")
    win, hop_samples = int(window * rate), int(hop * rate)
    if references.shape[-1] < win:
        raise ValueError(f"audio of {references.shape[-1]} samples is shorter than one "
                         f"{window} s evaluation frame ({win} samples)")
    if backend == "fast":
        return bss_eval_v4(references, estimates, win, hop_samples)
    if backend == "torch":
        return torch_v4(references, estimates, win, hop_samples, device=device)
    if backend != "museval":
        raise ValueError(f"unknown BSSEval backend {backend!r}: expected 'fast', 'torch' or "
                         "'museval'")
    import museval  # lazy: imports stempeg, which needs ffmpeg on PATH

    values = museval.evaluate(np.swapaxes(references, 1, 2).astype(np.float64),
                              np.swapaxes(estimates, 1, 2).astype(np.float64),
                              win=win, hop=hop_samples)
    return dict(zip(METRICS, values))


def median_over_frames(values: np.ndarray) -> np.ndarray:
    """museval's track score: the median over frames, ignoring NaN frames (all-NaN: NaN)."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape[:-1], np.nan)
    finite = ~np.isnan(values)
    for index in np.ndindex(values.shape[:-1]):
        if finite[index].any():
            out[index] = np.median(values[index][finite[index]])
    return out
