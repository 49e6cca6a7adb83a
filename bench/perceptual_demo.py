"""Simulated raters on a built listening test, then the perceptual objective fitted to their
ratings: the cross-validated table of ``gansep listen fit-objective``.

    python bench/perceptual_demo.py [--test runs/listen-demo/test] [--raters 8]
                                    [--rule sdr|stft] [--out runs/perceptual]

Each rater opens a session on the real server (in process), rates every trial and submits it;
the ratings are exported in gansep's format and fitted. The raters' rule:

- ``sdr``: a rating that rises with the stimulus's BSSEval SDR (20 + 3 dB^-1 x SDR, the
  hidden reference 100), which is not one of the fitted terms: how well do the terms stand in
  for a rule they do not contain?
- ``stft``: 75 minus 12 x the standardised 1024-point STFT distance, a rule inside the terms.

Gaussian noise of ``--noise`` rating points is added to each rating (then rounded and clipped
to 0-100, as a slider would).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", type=Path, default=Path("runs/listen-demo/test"))
    parser.add_argument("--raters", type=int, default=8)
    parser.add_argument("--rule", choices=["sdr", "stft"], default="sdr")
    parser.add_argument("--noise", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/perceptual"))
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from gansep.eval.perceptual import TERMS, term_values
    from gansep.listen.build import load_test
    from gansep.listen.fit import fit_objective, markdown
    from gansep.listen.metrics import rated_stimuli, stimulus_metrics
    from gansep.listen.ratings import read_ratings
    from gansep.listen.server import create_app
    from gansep.listen.simulate import run_rater
    from gansep.listen.store import export_csv

    quality = {}
    stft = {}
    for trial, condition, reference, interference, estimate, rate in rated_stimuli(args.test):
        if args.rule == "sdr":
            sdr = stimulus_metrics(reference, interference, estimate, rate)["SDR"]
            quality[trial, condition] = float(np.clip(20 + 3 * sdr, 0, 100))
        else:
            stft[trial, condition] = term_values(reference, estimate,
                                                 {"stft-1024": TERMS["stft-1024"]})["stft-1024"]
    if stft:
        values = np.array(list(stft.values()))
        quality = {k: 75 - 12 * (v - values.mean()) / values.std() for k, v in stft.items()}
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "ratings.sqlite"
        client = TestClient(create_app(args.test, db))

        def post(path, body):
            response = client.post(path, json=body)
            return response.status_code, response.json()

        rng = np.random.default_rng(args.seed)
        description = load_test(args.test)
        for _ in range(args.raters):
            run_rater(post, description, lambda t, c: quality.get((t, c), 100.0), rng,
                      noise=args.noise)
        args.out.mkdir(parents=True, exist_ok=True)
        export_csv(db, args.out / "simulated-ratings.csv")
    ratings = read_ratings(args.out / "simulated-ratings.csv")
    model, table = fit_objective(ratings, args.test, args.out,
                                 ratings_source=str(args.out / "simulated-ratings.csv"))
    print(f"{args.raters} simulated raters, rule {args.rule}, noise {args.noise:g}; "
          f"test {args.test}\n")
    print(markdown(table, model))


if __name__ == "__main__":
    main()
