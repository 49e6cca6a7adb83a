"""Time the torch BSSEval backend scoring tracks one by one against scoring them in batches
of one length bucket (``bss_eval_many``), on the same tracks, and check they agree.

    python bench/bsseval_batch.py [--tracks 8] [--seconds 30] [--device cpu]

Tracks are stereo 44.1 kHz Gaussian noise with 2 sources, lengths ``seconds`` to ``seconds +
0.5 * (tracks - 1)`` (one bucket); estimates are the references plus noise.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gansep.eval.bsseval import bss_eval, bss_eval_many

RATE = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tracks = []
    for k in range(args.tracks):
        references = rng.standard_normal((2, 2, int((args.seconds + 0.5 * k) * RATE)))
        tracks.append((references, references + 0.3 * rng.standard_normal(references.shape)))
    start = time.perf_counter()
    alone = [bss_eval(r, e, RATE, backend="torch", device=args.device) for r, e in tracks]
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    together = bss_eval_many(tracks, RATE, backend="torch", device=args.device,
                             batch_tracks=args.tracks)
    batched = time.perf_counter() - start
    difference = max(float(np.nanmax(np.abs(np.asarray(a[m]) - np.asarray(b[m]))))
                     for a, b in zip(alone, together) for m in ("SDR", "ISR", "SIR", "SAR"))
    print(f"{args.tracks} tracks, {args.seconds:g} s and up, 2 sources, device {args.device}: "
          f"one by one {one_by_one:.2f} s, batched {batched:.2f} s "
          f"({one_by_one / batched:.2f}x); largest difference {difference:.1e} dB")


if __name__ == "__main__":
    main()
