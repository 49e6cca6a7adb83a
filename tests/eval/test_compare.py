"""compare for papers: numeric CSV columns, Holm-corrected p-values over the objectives tested
against one baseline, the rank-biserial effect size and a bootstrap interval of the median
difference; each run counted once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gansep.eval.results import museval_json
from gansep.eval.statistics import holm
from gansep.experiments.compare import CSV_COLUMNS, compare_runs


def write_run(folder, objective, seed, shift, tracks=8):
    """A run whose vocals SDR on track k is k + shift (+ a seed's small offset)."""
    rng = np.random.default_rng(seed)
    for k in range(tracks):
        sdr = np.full((2, 3), k + shift + 0.01 * rng.standard_normal())
        scores = {name: sdr for name in ("SDR", "SIR", "SAR", "ISR")}
        result = museval_json(scores, ["vocals", "accompaniment"], si_sdr=[k + shift] * 2)
        path = folder / "results" / "test" / f"track-{k:02d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    (folder / "params.json").write_text(json.dumps({
        "model.init_args.objective": f"configs/objectives/{objective}.yaml",
        "seed_everything": seed}))


def test_the_csv_is_numeric_with_holm_and_effect_sizes(tmp_path):
    for objective, shift in (("l1", 0.0), ("better", 1.0), ("same", 0.0), ("worse", -0.5)):
        for seed in (0, 1):
            write_run(tmp_path / "runs" / f"{objective}-{seed}", objective, seed, shift)
    compare_runs(sorted((tmp_path / "runs").iterdir()), tmp_path / "out", baseline="l1")
    table = pd.read_csv(tmp_path / "out" / "compare-sdr.csv")
    assert tuple(table.columns) == CSV_COLUMNS
    for column in CSV_COLUMNS[2:]:
        assert table[column].dtype == float or table[column].dtype == np.int64, column
    vocals = table[table.source == "vocals"].set_index("objective")
    assert np.isnan(vocals.loc["l1", "p_value"])  # the baseline is compared with nothing
    assert vocals.loc["better", "median_difference"] == pytest.approx(1.0, abs=0.05)
    assert vocals.loc["better", "effect_size"] == 1.0 and vocals.loc["worse", "effect_size"] == -1.0
    low, high = vocals.loc["better", ["difference_low", "difference_high"]]
    assert low <= vocals.loc["better", "median_difference"] <= high
    tested = vocals.drop("l1")
    np.testing.assert_allclose(tested["p_holm"], holm(tested["p_value"]), rtol=1e-5)
    assert vocals.loc["better", "n"] == 16  # 8 tracks x 2 seeds, pooled
    markdown = (tmp_path / "out" / "compare-sdr.md").read_text()
    assert "p (Holm)" in markdown and "r (rank-biserial)" in markdown
    assert (tmp_path / "out" / "sdr-boxplot.png").stat().st_size > 10_000


@pytest.mark.slow  # 200 simulated experiments of 400 resamples
def test_the_nested_bootstrap_covers_the_true_share_at_its_nominal_rate():
    """Phrases nested in tracks in seeds, each track with its own propensity to decide (so
    phrases of a track are correlated): over many simulated experiments, the 95 % interval of
    the share decided covers the true share about 95 % of the time."""
    from gansep.eval.statistics import hierarchical_bootstrap

    rng = np.random.default_rng(7)
    truth, covered, trials = 0.4, 0, 200
    for _ in range(trials):
        groups = {}
        for seed in range(3):
            tracks = {}
            for track in range(25):
                p = np.clip(rng.normal(truth, 0.15), 0, 1)  # the track's own share
                tracks[track] = list(rng.random(4) < p)  # its 4 phrases decided or not
            groups[seed] = tracks
        _, low, high = hierarchical_bootstrap(groups, np.mean, n_resamples=400,
                                              seed=int(rng.integers(1 << 30)))
        covered += low <= truth <= high
    assert 0.88 <= covered / trials <= 0.99, covered / trials
