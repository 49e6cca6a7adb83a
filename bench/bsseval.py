"""Time museval.evaluate and gansep's BSSEval v4 backends (numpy ``fast``, ``torch`` on the
CPU and, when present, on CUDA) on the same 3-minute stereo 44.1 kHz track, with 2 and with 4
sources, check that they agree, and time a validation epoch's scoring with each backend.

    python bench/bsseval.py [--seconds 180] [--repeats 3] [--skip-museval] [--epoch-tracks 14]

The track is synthetic (the toy generator's stems at 44.1 kHz) with estimates that mix in
other sources and noise; frames are museval's default 1 s window and hop. The first table has
the median time of ``--repeats`` runs of each, the ratio to museval, and the largest per-frame
difference from museval in dB; its row "museval, sources reversed" is museval on the same
sources listed in the opposite order (the same figures in exact arithmetic): how far museval
differs from itself where the Gram matrix of delayed references (its condition number is
printed) is numerically singular. The second table scores ``--epoch-tracks`` tracks of the
same length (MUSDB18's validation split: 14 tracks; here circular shifts of the one track) with
the scoring runner's standard metrics (BSSEval, SI-SDR), as the validation callback does after
separating them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gansep.data.toy import make_toy_track
from gansep.eval.bsseval import bss_eval
from gansep.eval.evaluate import score_track
from gansep.eval.fast_bsseval import FILTERS_LEN, _toeplitz_blocks, lagged_correlations
from gansep.eval.metrics import standard_metrics

RATE = 44100


def tracks(seconds: float) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{sources: (references, estimates)}`` for 2 and 4 sources of one toy track."""
    stems = make_toy_track(0, sample_rate=RATE, duration=seconds)
    four = np.stack([stems[n] for n in ("vocals", "drums", "bass", "other")]).astype(np.float64)
    out = {}
    for sources, references in ((2, np.stack([four[0], four[1:].sum(0)])), (4, four)):
        rng = np.random.default_rng(0)
        mixture = references.sum(0)
        estimates = 0.8 * references + 0.2 * mixture[None] / sources
        estimates += 0.01 * rng.standard_normal(estimates.shape)
        out[sources] = references, estimates
    return out


def condition_number(references: np.ndarray) -> float:
    """Of museval's Gram matrix of the references' ``FILTERS_LEN`` delays."""
    signals = references.reshape(-1, references.shape[-1])
    gram = _toeplitz_blocks(lagged_correlations(signals, signals, FILTERS_LEN), FILTERS_LEN)
    eigenvalues = np.linalg.eigvalsh(gram)
    return float(eigenvalues[-1] / max(abs(eigenvalues[0]), np.finfo(float).tiny))


def timed(function, repeats: int) -> tuple[float, dict]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def largest_difference(ours: dict, expected: dict) -> float:
    return max(float(np.nanmax(np.abs(ours[m] - expected[m]))) for m in ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-museval", action="store_true",
                        help="compare with numpy instead (museval takes minutes)")
    parser.add_argument("--epoch-tracks", type=int, default=14,
                        help="tracks of the validation-epoch table (0: no such table)")
    args = parser.parse_args()
    import torch

    runs = [("fast", None), ("torch", "cpu")]
    if torch.cuda.is_available():
        runs.append(("torch", "cuda"))
    machine = (f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
               + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    print(f"{args.seconds:.0f} s stereo at 44.1 kHz, 1 s frames, median of {args.repeats} "
          f"runs, {machine}")
    reference = "fast" if args.skip_museval else "museval"
    print(f"| sources | Gram cond. | backend | time (s) | speed-up vs {reference} | "
          f"max abs diff (dB) |")
    print("|---:|---:|---|---:|---:|---:|")
    data = tracks(args.seconds)
    for sources, (references, estimates) in data.items():
        cond = f"{condition_number(references):.1e}"
        slow, expected = timed(lambda: bss_eval(references, estimates, RATE,
                                                backend=reference), args.repeats)
        print(f"| {sources} | {cond} | {reference} | {slow:.2f} | 1.0x | 0 |", flush=True)
        if not args.skip_museval:
            reversed_ = bss_eval(references[::-1].copy(), estimates[::-1].copy(), RATE,
                                 backend="museval")
            diff = largest_difference({k: v[::-1] for k, v in reversed_.items()}, expected)
            print(f"| {sources} | {cond} | museval, sources reversed | | | {diff:.2e} |")
        for backend, device in runs:
            seconds, ours = timed(lambda: bss_eval(references, estimates, RATE,
                                                   backend=backend, device=device),
                                  args.repeats)
            name = backend + (f" ({device})" if device else "")
            print(f"| {sources} | {cond} | {name} | {seconds:.2f} | {slow / seconds:.1f}x | "
                  f"{largest_difference(ours, expected):.2e} |", flush=True)
    if args.epoch_tracks:
        references, estimates = data[2]
        shifts = [k * references.shape[-1] // args.epoch_tracks
                  for k in range(args.epoch_tracks)]
        print(f"\nA validation epoch's scoring: {args.epoch_tracks} tracks of "
              f"{args.seconds:.0f} s, 2 sources, BSSEval + SI-SDR, {machine}")
        print("| backend | epoch (s) | per track (s) |")
        print("|---|---:|---:|")
        for backend, device in runs:
            metrics = standard_metrics(backend=backend, device=device)
            start = time.perf_counter()
            for shift in shifts:
                score_track(np.roll(references, shift, -1), np.roll(estimates, shift, -1),
                            RATE, ["vocals", "accompaniment"], metrics)
            seconds = time.perf_counter() - start
            name = backend + (f" ({device})" if device else "")
            print(f"| {name} | {seconds:.1f} | {seconds / len(shifts):.2f} |", flush=True)


if __name__ == "__main__":
    main()
