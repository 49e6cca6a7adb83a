"""BSSEval v4 metrics (SDR, ISR, SIR, SAR) as museval computes them."""

from __future__ import annotations

import numpy as np

METRICS = ("SDR", "ISR", "SIR", "SAR")


def bss_eval(references: np.ndarray, estimates: np.ndarray, rate: int,
             window: float = 1.0, hop: float = 1.0) -> dict[str, np.ndarray]:
    """Framewise BSSEval v4 with museval (the SiSEC 2018 reference).

    Args:
        references, estimates: ``(sources, channels, time)``.
        rate: sample rate in Hz; ``window`` and ``hop`` are in seconds.

    Returns:
        ``{metric: (sources, frames)}``; NaN where museval gives NaN (silent reference frames).
    """
    import museval  # lazy: imports stempeg, which needs ffmpeg on PATH

    if references.shape != estimates.shape:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape} differ")
    win, hop_samples = int(window * rate), int(hop * rate)
    if references.shape[-1] < win:
        raise ValueError(f"audio of {references.shape[-1]} samples is shorter than one "
                         f"{window} s evaluation frame ({win} samples)")
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
