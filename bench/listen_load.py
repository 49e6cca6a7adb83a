"""Load on the listening-test server: simulated raters submitting at once against a real
``gansep listen serve`` (uvicorn) on loopback. Prints the submit latency (p50, p99, max) and
checks that every acknowledged rating is in the database.

    python bench/listen_load.py                  # 50 raters x 20 trials
    python bench/listen_load.py --raters 10 --trials 5
    python bench/listen_load.py --think 0.5      # each rater pauses 0-1 s before a submit

The test it serves is built from generated toy tracks (two conditions: the reference plus
white noise at two levels), so the bench needs no data.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(folder: Path, trials: int) -> Path:
    from gansep.data.audio import read_audio, write_audio
    from gansep.data.toy import make_toy_dataset
    from gansep.listen.build import build_test

    tracks = max(2, -(-(trials + 1) // 2))  # random starts fit only 2-4 excerpts of 2 s in 10 s
    toy = make_toy_dataset(folder / "toy", seed=0, duration=10.0, tracks={"test": tracks})
    conditions = {}
    for name, noise in (("faint", 0.05), ("noisy", 0.5)):
        rng = np.random.default_rng(len(name))
        for track in sorted((toy / "test").iterdir()):
            audio, rate = read_audio(track / "vocals.wav")
            noisy = audio + noise * audio.std() * rng.standard_normal(audio.shape)
            write_audio(folder / name / track.name / "vocals.wav", noisy.astype(np.float32),
                        rate, "FLOAT")
        conditions[name] = folder / name
    build_test(toy / "test", conditions, "vocals", trials, 2.0, folder / "test",
               min_activity=0.5)
    return folder / "test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause (s) before each submission; 0: back to back")
    args = parser.parse_args()

    import httpx

    from gansep.listen.build import load_test
    from gansep.listen.simulate import run_rater

    with tempfile.TemporaryDirectory() as scratch:
        test = build(Path(scratch), args.trials)
        description = load_test(test)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        db = Path(scratch) / "ratings.sqlite"
        server = subprocess.Popen(
            [sys.executable, "-m", "gansep.cli.main", "listen", "serve", str(test), "--port",
             str(port), "--db", str(db)], env={**os.environ, "PYTHONPATH": str(ROOT)})
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(400):
                try:
                    httpx.get(url + "/api/test", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)

            def rater(seed: int) -> list[dict]:
                client = httpx.Client(base_url=url, timeout=30)

                def post(path, body):
                    response = client.post(path, json=body)
                    return response.status_code, response.json()

                quality = {"reference": 95, "anchor-3.5kHz": 20, "anchor-7kHz": 45,
                           "faint": 75, "noisy": 35}
                return run_rater(post, description, lambda t, c: quality[c],
                                 np.random.default_rng(seed), think=args.think)

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.raters) as pool:
                records = [r for rs in pool.map(rater, range(args.raters)) for r in rs]
            wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()
        with sqlite3.connect(db) as connection:
            stored = connection.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
            submissions = connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    latency = np.array([r["seconds"] for r in records]) * 1000
    acknowledged = [r for r in records if r["status"] == 200]
    expected = sum(len(r["ratings"]) for r in acknowledged)
    print(f"{args.raters} raters x {args.trials} trials = {len(records)} submissions "
          f"({len(acknowledged)} acknowledged) in {wall:.1f} s, "
          f"{len(records) / wall:.0f} submissions/s")
    print(f"submit latency: p50 {np.percentile(latency, 50):.1f} ms, "
          f"p99 {np.percentile(latency, 99):.1f} ms, max {latency.max():.1f} ms")
    print(f"stored: {submissions} submissions, {stored} ratings (expected {expected})")
    if stored != expected or len(acknowledged) != len(records):
        raise SystemExit("ratings were lost or refused")


if __name__ == "__main__":
    main()
