"""BSSEval v4 metrics (SDR, ISR, SIR, SAR) as museval computes them, with three backends:
``fast`` (gansep's vectorised numpy implementation, equal to museval's to float rounding),
``torch`` (the same arithmetic in float64 torch, on any device) and ``museval`` (the reference
implementation itself)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from gansep.eval.fast_bsseval import bss_eval_v4

METRICS = ("SDR", "ISR", "SIR", "SAR")


def _checked(references, estimates, rate: int, window: float, backend: str):
    if backend not in ("fast", "torch", "museval"):
        raise ValueError(f"unknown BSSEval backend {backend!r}: expected 'fast', 'torch' or "
                         "'museval'")
    if backend != "torch":
        references, estimates = np.asarray(references), np.asarray(estimates)
    if references.ndim != 3 or estimates.ndim != 3 or references.shape[:2] != estimates.shape[:2]:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape} must "
                         "both be (sources, channels, time) with the same sources and channels")
    if references.shape[-1] < int(window * rate):
        raise ValueError(f"audio of {references.shape[-1]} samples is shorter than one "
                         f"{window} s evaluation frame ({int(window * rate)} samples)")
    return references, estimates


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
    references, estimates = _checked(references, estimates, rate, window, backend)
    win, hop_samples = int(window * rate), int(hop * rate)
    if backend == "fast":
        return bss_eval_v4(references, estimates, win, hop_samples)
    if backend == "torch":
        from gansep.eval.torch_bsseval import bss_eval_v4 as torch_v4

        return torch_v4(references, estimates, win, hop_samples, device=device)
    import museval  # lazy: imports stempeg, which needs ffmpeg on PATH

    values = museval.evaluate(np.swapaxes(references, 1, 2).astype(np.float64),
                              np.swapaxes(estimates, 1, 2).astype(np.float64),
                              win=win, hop=hop_samples)
    return dict(zip(METRICS, values))


def length_buckets(lengths: list[int], ratio: float = 1.25, size: int = 8) -> list[list[int]]:
    """The indices of ``lengths`` in groups of at most ``size``, shortest first, each group's
    longest at most ``ratio`` times its shortest: the tracks that one batch pads to one length
    (padding costs at most ``ratio - 1`` of the group's work)."""
    buckets: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda k: lengths[k]):
        last = buckets[-1] if buckets else None
        if last and len(last) < size and lengths[index] <= ratio * lengths[last[0]]:
            last.append(index)
        else:
            buckets.append([index])
    return buckets


def bss_eval_many(tracks: list[tuple], rate: int, window: float = 1.0, hop: float = 1.0,
                  backend: Literal["fast", "torch", "museval"] = "fast",
                  device: str | None = None, batch_tracks: int = 8,
                  ratio: float = 1.25) -> list[dict[str, np.ndarray]]:
    """[`bss_eval`][] of several ``(references, estimates)`` tracks, one result each, in
    order. The ``torch`` backend scores tracks of one shape and one length bucket
    ([`length_buckets`][]: at most ``batch_tracks``, lengths within ``ratio``) in one batch
    (`gansep.eval.torch_bsseval.bss_eval_v4_batch`); the others score one at a time."""
    if backend != "torch":
        return [bss_eval(r, e, rate, window, hop, backend, device) for r, e in tracks]
    from gansep.eval.torch_bsseval import bss_eval_v4_batch

    checked = [_checked(r, e, rate, window, backend) for r, e in tracks]
    win, hop_samples = int(window * rate), int(hop * rate)
    results: list = [None] * len(checked)
    shapes: dict[tuple, list[int]] = {}
    for k, (references, _) in enumerate(checked):  # at least one window long: one grid
        shapes.setdefault(tuple(references.shape[:2]), []).append(k)
    for indices in shapes.values():
        lengths = [checked[k][0].shape[-1] for k in indices]
        for bucket in length_buckets(lengths, ratio, batch_tracks):
            members = [indices[b] for b in bucket]
            scored = bss_eval_v4_batch([checked[k][0] for k in members],
                                       [checked[k][1] for k in members], win, hop_samples,
                                       device=device)
            for k, result in zip(members, scored):
                results[k] = result
    return results


def median_over_frames(values: np.ndarray) -> np.ndarray:
    """museval's track score: the median over frames, ignoring NaN frames (all-NaN: NaN)."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape[:-1], np.nan)
    finite = ~np.isnan(values)
    for index in np.ndindex(values.shape[:-1]):
        if finite[index].any():
            out[index] = np.median(values[index][finite[index]])
    return out
