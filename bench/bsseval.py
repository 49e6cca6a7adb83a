"""Time museval.evaluate and gansep's BSSEval v4 backends (numpy ``fast``, ``torch`` on the
CPU and, when present, on CUDA) on the same 3-minute stereo 44.1 kHz track, with 2 and with 4
sources, and check that they agree.

    python bench/bsseval.py [--seconds 180] [--repeats 3] [--skip-museval]

The track is synthetic (the toy generator's stems at 44.1 kHz) with estimates that mix in
other sources and noise; frames are museval's default 1 s window and hop. Reports the median
time of ``--repeats`` runs of each, their ratio, and the largest per-frame difference in dB.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gansep.data.toy import make_toy_track
from gansep.eval.bsseval import bss_eval


def track(seconds: float, sources: int) -> tuple[np.ndarray, np.ndarray]:
    stems = make_toy_track(0, sample_rate=44100, duration=seconds)
    names = ["vocals", "drums", "bass", "other"]
    references = np.stack([stems[n] for n in names]).astype(np.float64)
    if sources == 2:
        references = np.stack([references[0], references[1:].sum(0)])
    rng = np.random.default_rng(0)
    mixture = references.sum(0)
    estimates = 0.8 * references + 0.2 * mixture[None] / sources
    estimates += 0.01 * rng.standard_normal(estimates.shape)
    return references, estimates


def timed(function, repeats: int) -> tuple[float, dict]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-museval", action="store_true",
                        help="compare with numpy instead (museval takes minutes)")
    args = parser.parse_args()
    import torch

    runs = [("fast", None), ("torch", "cpu")]
    if torch.cuda.is_available():
        runs.append(("torch", "cuda"))
    print(f"{args.seconds:.0f} s stereo at 44.1 kHz, 1 s frames, median of {args.repeats} runs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    reference = "fast" if args.skip_museval else "museval"
    print(f"| sources | backend | time (s) | speed-up vs {reference} | max abs diff (dB) |")
    print("|---:|---|---:|---:|---:|")
    for sources in (2, 4):
        references, estimates = track(args.seconds, sources)
        slow, expected = timed(lambda: bss_eval(references, estimates, 44100,
                                                backend=reference), args.repeats)
        print(f"| {sources} | {reference} | {slow:.2f} | 1.0x | 0 |")
        for backend, device in runs:
            if backend == reference:
                continue
            seconds, ours = timed(lambda: bss_eval(references, estimates, 44100,
                                                   backend=backend, device=device),
                                  args.repeats)
            diff = max(float(np.nanmax(np.abs(ours[m] - expected[m]))) for m in ours)
            name = backend + (f" ({device})" if device else "")
            print(f"| {sources} | {name} | {seconds:.2f} | {slow / seconds:.1f}x | "
                  f"{diff:.2e} |", flush=True)


if __name__ == "__main__":
    main()
