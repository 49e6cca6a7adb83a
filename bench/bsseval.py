"""Time museval.evaluate and gansep's fast BSSEval v4 on the same 3-minute stereo 44.1 kHz
track, with 2 and with 4 sources, and check that they agree.

    python bench/bsseval.py [--seconds 180] [--repeats 3]

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
    args = parser.parse_args()
    print(f"{args.seconds:.0f} s stereo at 44.1 kHz, 1 s frames, median of {args.repeats} runs")
    print("| sources | museval (s) | fast (s) | speed-up | max abs diff (dB) |")
    print("|---:|---:|---:|---:|---:|")
    for sources in (2, 4):
        references, estimates = track(args.seconds, sources)
        slow, expected = timed(lambda: bss_eval(references, estimates, 44100,
                                                backend="museval"), args.repeats)
        fast, ours = timed(lambda: bss_eval(references, estimates, 44100, backend="fast"),
                           args.repeats)
        diff = max(float(np.nanmax(np.abs(ours[m] - expected[m]))) for m in ours)
        print(f"| {sources} | {slow:.2f} | {fast:.2f} | {slow / fast:.1f}x | {diff:.2e} |")


if __name__ == "__main__":
    main()
