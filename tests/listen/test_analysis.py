"""The analysis against hand-computed values: screening, Holm, bootstrap coverage, and
correlations equal to scipy's; reading ratings in every format; the metrics of stimuli."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gansep.errors import ConfigError
from gansep.listen.analysis import (analyse, bootstrap_ci, correlations, holm, item_ratings,
                                    paired_comparisons, screening)
from gansep.listen.ratings import read_ratings


def long_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["rater", "trial", "condition", "rating"])


def test_screening_by_hand():
    """Ten trials. Rater a: hidden reference below 90 in 2 of 10 trials (20 % > 15 %):
    excluded. Rater b: 1 of 10 (10 %): kept. Mid anchor above 90: rater c in 2 trials, but in
    trial t0 three of the four raters (75 % > 25 %) do so, so t0 does not count: 1 of 9
    (11 %), kept; rater d rates it above 90 in t0, t1, t2: 2 of 9 counted (22 %), excluded."""
    rows = []
    for trial in [f"t{i}" for i in range(10)]:
        for rater in "abcd":
            reference = 100
            if rater == "a" and trial in ("t3", "t4"):
                reference = 80
            if rater == "b" and trial == "t5":
                reference = 89
            mid = 50
            if trial == "t0" and rater in "bcd":
                mid = 95
            if rater == "c" and trial == "t7":
                mid = 91
            if rater == "d" and trial in ("t1", "t2"):
                mid = 99
            rows += [(rater, trial, "reference", reference), (rater, trial, "mid", mid),
                     (rater, trial, "sep", 40)]
    table = screening(item_ratings(long_table(rows).assign(replicate=1)), "reference", "mid")
    result = table.set_index("rater")
    assert result["excluded"].to_dict() == {"a": True, "b": False, "c": False, "d": True}
    assert result.loc["a", "reference_below"] == 2 and result.loc["b", "reference_below"] == 1
    assert result.loc["c", "mid_anchor_above"] == 1 and result.loc["d", "mid_anchor_above"] == 2
    assert (result["exempt_trials"] == 1).all()
    assert "2 of 10 trials (20% > 15%)" in result.loc["a", "reason"]
    assert "mid anchor above 90 in 2 of 9 trials (22% > 15%)" in result.loc["d", "reason"]


def test_screening_needs_the_named_conditions():
    items = item_ratings(long_table([("a", "t", "ref", 90)]).assign(replicate=1))
    with pytest.raises(ConfigError, match="--reference 'reference' is not a rated condition"):
        screening(items, "reference", None)


def test_holm_by_hand():
    # p sorted: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06 (monotone), 0.5*1=0.5
    np.testing.assert_allclose(holm([0.03, 0.5, 0.01, 0.02]), [0.06, 0.5, 0.04, 0.06])
    np.testing.assert_allclose(holm([0.4, 0.9]), [0.8, 0.9])


def test_bootstrap_interval_covers_the_mean_about_95_percent():
    rng = np.random.default_rng(0)
    hits = 0
    for seed in range(200):
        sample = rng.normal(60, 15, size=25)
        low, high = bootstrap_ci(sample, np.mean, seed, n_resamples=999)
        hits += low <= 60 <= high
    assert 0.89 <= hits / 200 <= 0.99


def test_paired_comparisons_equal_scipy():
    rng = np.random.default_rng(1)
    rows = []
    for rater in "abcdef":
        for trial in ("t1", "t2", "t3"):
            rows += [(rater, trial, "x", rng.integers(30, 60)),
                     (rater, trial, "y", rng.integers(50, 90)),
                     (rater, trial, "z", rng.integers(40, 70))]
    items = item_ratings(long_table(rows))
    table = paired_comparisons(items, ["x", "y", "z"])
    wide = items.pivot_table(index=["rater", "trial"], columns="condition", values="rating")
    expected = [stats.wilcoxon(wide[a], wide[b]).pvalue for a, b in
                (("x", "y"), ("x", "z"), ("y", "z"))]
    np.testing.assert_allclose(table["p"], expected)
    np.testing.assert_allclose(table["p_holm"], holm(expected))
    assert table["n"].tolist() == [18, 18, 18]


def test_correlations_equal_scipy():
    rng = np.random.default_rng(2)
    trials = [f"t{i}" for i in range(6)]
    conditions = ["c1", "c2", "c3", "c4"]
    metric = {(t, c): rng.normal() for t in trials for c in conditions}
    rows = [(r, t, c, float(np.clip(50 + 15 * metric[t, c] + rng.normal(0, 5), 0, 100)))
            for r in "abc" for t in trials for c in conditions]
    rows += [(r, t, "reference", 100.0) for r in "abc" for t in trials]
    items = item_ratings(long_table(rows))
    metrics = pd.DataFrame([{"trial": t, "condition": c, "M": metric[t, c],
                             "flat": 1.0} for t in trials for c in conditions])
    table, merged = correlations(items, metrics, "mean", exclude=("reference",))
    row = table[(table.metric == "M") & (table.scope == "all")].iloc[0]
    x, y = merged["M"].to_numpy(), merged["rating"].to_numpy()
    assert row["n"] == 24
    assert row["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert row["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert row["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    fit = stats.linregress(x, y)
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((y - fit.intercept - fit.slope * x)
                                                        ** 2)))
    assert row["pearson_ci_low"] < row["pearson"] < row["pearson_ci_high"]
    within = table[(table.metric == "M") & (table.scope == "within-trial")].iloc[0]
    per_trial = [stats.pearsonr(g["M"], g["rating"]).statistic for _, g in
                 merged.groupby("trial")]
    assert within["n"] == 6 and within["pearson"] == pytest.approx(np.median(per_trial))
    assert np.isnan(table[(table.metric == "flat") & (table.scope == "all")].iloc[0]["pearson"])
    # Means over raters: the merged rating is the mean of the three raters.
    one = merged[(merged.trial == "t0") & (merged.condition == "c1")]["rating"].item()
    assert one == pytest.approx(np.mean([r[3] for r in rows if r[1:3] == ("t0", "c1")]))


def test_missing_metric_rows_are_named():
    items = item_ratings(long_table([("a", "t1", "c1", 50), ("a", "t1", "c2", 60)]))
    metrics = pd.DataFrame([{"trial": "t1", "condition": "c1", "M": 1.0}])
    with pytest.raises(ConfigError, match="no row for trial t1, condition c2"):
        correlations(items, metrics)


def test_ratings_formats(tmp_path):
    (tmp_path / "long.csv").write_text("rater,trial,condition,rating\nr1,t1,a,50\nr1,t1,a,60\n")
    table = read_ratings(tmp_path / "long.csv")
    assert table["replicate"].tolist() == [1, 2]
    assert item_ratings(table)["rating"].tolist() == [55.0]
    (tmp_path / "webmushra.csv").write_text(
        "session_test_id,age,session_uuid,trial_id,rating_stimulus,rating_score,rating_time,"
        "rating_comment\nmy-test,30,u1,trial1,reference,100,12.5,\nmy-test,30,u1,trial1,C1,40,"
        "12.5,\n")
    table = read_ratings(tmp_path / "webmushra.csv")
    assert table[["rater", "trial", "condition", "rating"]].values.tolist() == [
        ["u1", "trial1", "reference", 100.0], ["u1", "trial1", "C1", 40.0]]
    (tmp_path / "bad.csv").write_text("rater,trial,condition,rating\nr1,t1,a,150\n")
    with pytest.raises(ConfigError, match="row 2: rating .150. is not a number"):
        read_ratings(tmp_path / "bad.csv")
    (tmp_path / "cols.csv").write_text("who,what\n1,2\n")
    with pytest.raises(ConfigError, match="no column\\(s\\) rater, trial, condition, rating"):
        read_ratings(tmp_path / "cols.csv")


def test_analyse_writes_every_table_and_plot(tmp_path):
    rng = np.random.default_rng(3)
    rows, metric_rows = [], []
    for trial in ("t1", "t2", "t3", "t4"):
        quality = {"reference": 98, "anchor-3.5kHz": 20, "anchor-7kHz": 50, "l1": 60,
                   "gan": 70, "noisy": 30}
        for condition in quality:
            metric_rows.append({"trial": trial, "condition": condition,
                                "SDR": quality[condition] / 10 + rng.normal(0, 0.5)})
        for rater in ("a", "b", "c"):
            rows += [(rater, trial, c, float(np.clip(q + rng.normal(0, 3), 0, 100)))
                     for c, q in quality.items()]
    long_table(rows).to_csv(tmp_path / "ratings.csv", index=False)
    pd.DataFrame(metric_rows).to_csv(tmp_path / "metrics.csv", index=False)
    report = analyse(tmp_path / "ratings.csv", None, tmp_path / "metrics.csv", tmp_path / "out")
    for name in ("screening.csv", "conditions.csv", "pairs.csv", "correlations.csv",
                 "analysis.md", "conditions.png", "scatter.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    correlations_table = pd.read_csv(tmp_path / "out" / "correlations.csv")
    assert list(correlations_table.columns) == ["metric", "scope", "n", "pearson",
                                                "pearson_ci_low", "pearson_ci_high", "rmse",
                                                "spearman", "kendall"]
    assert correlations_table.iloc[0]["n"] == 12  # 4 trials x 3 conditions, no anchors
    assert correlations_table.iloc[0]["pearson"] > 0.9
    assert "| gan | l1 |" in report or "| gan | noisy |" in report
    # A second analysis into the same folder (without metrics) leaves only its own files.
    analyse(tmp_path / "ratings.csv", None, None, tmp_path / "out")
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left == ["analysis.md", "conditions.csv", "conditions.png", "gansep-output.json",
                    "pairs.csv", "screening.csv"]
    # A folder holding a file the analysis did not write is refused, and left as it was.
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt"):
        analyse(tmp_path / "ratings.csv", None, None, tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "out" / "analysis.md").is_file()
