"""``gansep listen analyse``: post-screening, per-condition statistics, paired comparisons and
the agreement of objective metrics with the ratings.

- Post-screening (ITU-R BS.1534-3, 4.1.2): a rater is excluded who rates the hidden reference
  below 90 on more than 15 % of their trials, or the mid anchor above 90 on more than 15 % of
  their trials, not counting, for the mid anchor, trials where more than 25 % of all raters
  rate it above 90 (an excerpt whose anchor is hard to tell from the reference).
- Per condition: mean with a 95 % bootstrap confidence interval (``scipy.stats.bootstrap``,
  BCa), median and interquartile range, over every (rater, trial) rating.
- Paired comparisons: every pair of conditions, paired on the ratings one rater gave both in
  one trial: Wilcoxon signed-rank test, p-values Holm-corrected over the pairs.
- With metrics: each rated item (trial, condition) is aggregated over raters (mean or median);
  the hidden reference and the anchors are left out. For each metric, over all items (scope
  ``all``): Pearson r with a 95 % bootstrap CI, the RMSE of the least-squares line from the
  metric to the rating, Spearman's rho and Kendall's tau; and within trials (scope
  ``within-trial``): the same per trial that has at least 3 items, then the median over those
  trials (the CI is the bootstrap CI of that median, over trials).

A rater's repeated ratings of one item (replicates) are averaged first.
"""

from __future__ import annotations

import csv
import itertools
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gansep.atomic import atomic_target, replaced_folder
from gansep.eval.statistics import bootstrap_ci, holm
from gansep.errors import ConfigError
from gansep.listen.ratings import read_ratings
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)

CORRELATION_COLUMNS = ("metric", "scope", "n", "pearson", "pearson_ci_low", "pearson_ci_high",
                       "rmse", "spearman", "kendall")
MIN_WITHIN_TRIAL = 3  # items a trial needs for a within-trial correlation


# ----------------------------------------------------------------------------- screening
def item_ratings(table: pd.DataFrame) -> pd.DataFrame:
    """One rating per (rater, trial, condition): the mean over replicates."""
    return table.groupby(["rater", "trial", "condition"], as_index=False)["rating"].mean()


def screening(items: pd.DataFrame, reference: str, mid_anchor: str | None,
              threshold: float = 90.0, limit: float = 0.15,
              exempt_share: float = 0.25) -> pd.DataFrame:
    """BS.1534-3 post-screening of every rater (see the module docstring). Returns one row per
    rater: trials, reference_below, reference_share, mid_anchor_above, mid_anchor_share,
    exempt_trials, excluded, reason."""
    conditions = set(items["condition"])
    if reference not in conditions:
        raise ConfigError(f"--reference {reference!r} is not a rated condition (conditions: "
                          f"{', '.join(sorted(conditions))}); name it, or pass --no-screening")
    if mid_anchor is not None and mid_anchor not in conditions:
        raise ConfigError(f"--mid-anchor {mid_anchor!r} is not a rated condition (conditions: "
                          f"{', '.join(sorted(conditions))}); name it, or pass --no-screening")
    wide = items.pivot_table(index=["rater", "trial"], columns="condition", values="rating")
    exempt: set[str] = set()
    if mid_anchor is not None:
        above = (wide[mid_anchor] > threshold).groupby(level="trial").mean()
        exempt = set(above.index[above > exempt_share])
    rows = []
    for rater, ratings in wide.groupby(level="rater"):
        trials = ratings.index.get_level_values("trial")
        ref = ratings[reference].dropna()
        ref_below = int((ref < threshold).sum())
        ref_share = ref_below / len(ref) if len(ref) else 0.0
        mid_above, mid_share, counted = 0, 0.0, 0
        if mid_anchor is not None:
            mid = ratings[mid_anchor][[t not in exempt for t in trials]].dropna()
            counted = len(mid)
            mid_above = int((mid > threshold).sum())
            mid_share = mid_above / counted if counted else 0.0
        reasons = []
        if ref_share > limit:
            reasons.append(f"rated the hidden reference below {threshold:g} in {ref_below} of "
                           f"{len(ref)} trials ({ref_share:.0%} > {limit:.0%})")
        if mid_share > limit:
            reasons.append(f"rated the mid anchor above {threshold:g} in {mid_above} of "
                           f"{counted} trials ({mid_share:.0%} > {limit:.0%})")
        rows.append({"rater": rater, "trials": len(trials), "reference_below": ref_below,
                     "reference_share": ref_share, "mid_anchor_above": mid_above,
                     "mid_anchor_share": mid_share, "exempt_trials": len(exempt),
                     "excluded": bool(reasons), "reason": "; ".join(reasons) or "kept"})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- statistics
def condition_table(items: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per condition: n, mean, its 95 % bootstrap CI, median, quartiles and IQR."""
    rows = []
    for condition, ratings in items.groupby("condition"):
        values = ratings["rating"].to_numpy()
        low, high = bootstrap_ci(values, np.mean, seed)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        rows.append({"condition": condition, "n": len(values), "mean": values.mean(),
                     "ci_low": low, "ci_high": high, "median": median, "q1": q1, "q3": q3,
                     "iqr": q3 - q1})
    return pd.DataFrame(rows).sort_values("mean", ascending=False, ignore_index=True)


def paired_comparisons(items: pd.DataFrame, conditions: list[str]) -> pd.DataFrame:
    """Wilcoxon signed-rank tests of every pair of ``conditions``, paired on (rater, trial);
    Holm-corrected."""
    from scipy.stats import wilcoxon

    wide = items.pivot_table(index=["rater", "trial"], columns="condition", values="rating")
    rows = []
    for a, b in itertools.combinations(conditions, 2):
        pairs = wide[[a, b]].dropna()
        difference = (pairs[a] - pairs[b]).to_numpy()
        if len(difference) == 0:
            continue
        if np.all(difference == 0):
            statistic, p = 0.0, 1.0
        else:
            result = wilcoxon(pairs[a], pairs[b])
            statistic, p = float(result.statistic), float(result.pvalue)
        rows.append({"condition_a": a, "condition_b": b, "n": len(difference),
                     "median_difference": float(np.median(difference)),
                     "mean_difference": float(difference.mean()), "wilcoxon": statistic,
                     "p": p})
    table = pd.DataFrame(rows, columns=["condition_a", "condition_b", "n", "median_difference",
                                        "mean_difference", "wilcoxon", "p"])
    table["p_holm"] = holm(table["p"]) if len(table) else []
    table["significant"] = table["p_holm"] < 0.05
    return table


# ----------------------------------------------------------------------------- metrics
def read_metrics(path: Path) -> pd.DataFrame:
    """A metrics CSV ``trial,condition,<metric>...``; ConfigError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--metrics {path}: no such file")
    try:
        table = pd.read_csv(path, dtype={"trial": str, "condition": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ConfigError(f"{path}: not a readable CSV ({error})") from None
    missing = [c for c in ("trial", "condition") if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: no column(s) {', '.join(missing)}; expected "
                          "trial,condition,<metric>...")
    metrics = [c for c in table.columns if c not in ("trial", "condition")]
    if not metrics:
        raise ConfigError(f"{path}: no metric columns beside trial and condition")
    for metric in metrics:
        values = pd.to_numeric(table[metric], errors="coerce")
        bad = values.isna() & table[metric].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigError(f"{path}: row {row + 2}, column {metric}: "
                              f"{table[metric].iloc[row]!r} is not a number")
        table[metric] = values
    duplicated = table.duplicated(["trial", "condition"])
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise ConfigError(f"{path}: two rows for trial {row['trial']}, condition "
                          f"{row['condition']}")
    return table


def _agreement(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, pearsonr, spearmanr

    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return {"pearson": np.nan, "rmse": np.nan, "spearman": np.nan, "kendall": np.nan}
    slope, intercept = np.polyfit(x, y, 1)
    return {"pearson": float(pearsonr(x, y).statistic),
            "rmse": float(np.sqrt(np.mean((y - (slope * x + intercept)) ** 2))),
            "spearman": float(spearmanr(x, y).statistic),
            "kendall": float(kendalltau(x, y).statistic)}


def _pearson_ci(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap, pearsonr

    if len(x) < 4 or np.all(x == x[0]) or np.all(y == y[0]):
        return np.nan, np.nan

    def statistic(a, b):
        if np.all(a == a[0]) or np.all(b == b[0]):
            return 0.0
        return pearsonr(a, b).statistic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = bootstrap((x, y), statistic, paired=True, vectorized=False,
                           n_resamples=4999, method="percentile",
                           random_state=np.random.default_rng(seed))
    return tuple(float(v) for v in result.confidence_interval)


def correlations(items: pd.DataFrame, metrics: pd.DataFrame, aggregate: str = "mean",
                 exclude: tuple[str, ...] = (), seed: int = 0) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """The agreement table (columns `CORRELATION_COLUMNS`) and the merged per-item
    table (trial, condition, rating, <metric>...) it was computed from."""
    rated = items[~items["condition"].isin(exclude)]
    per_item = rated.groupby(["trial", "condition"], as_index=False)["rating"].agg(aggregate)
    merged = per_item.merge(metrics, on=["trial", "condition"], how="left", indicator=True)
    absent = merged[merged["_merge"] == "left_only"]
    if len(absent):
        row = absent.iloc[0]
        raise ConfigError(f"the metrics have no row for trial {row['trial']}, condition "
                          f"{row['condition']} ({len(absent)} rated item(s) missing)")
    merged = merged.drop(columns="_merge")
    names = [c for c in metrics.columns if c not in ("trial", "condition")]
    rows = []
    for metric in names:
        usable = merged[["trial", "rating", metric]].dropna()
        usable = usable[np.isfinite(usable[metric])]
        x, y = usable[metric].to_numpy(float), usable["rating"].to_numpy(float)
        low, high = _pearson_ci(x, y, seed)
        rows.append({"metric": metric, "scope": "all", "n": len(x), **_agreement(x, y),
                     "pearson_ci_low": low, "pearson_ci_high": high})
        per_trial = [_agreement(g[metric].to_numpy(float), g["rating"].to_numpy(float))
                     for _, g in usable.groupby("trial") if len(g) >= MIN_WITHIN_TRIAL]
        per_trial = [a for a in per_trial if np.isfinite(a["pearson"])]
        within = {key: float(np.median([a[key] for a in per_trial])) if per_trial else np.nan
                  for key in ("pearson", "rmse", "spearman", "kendall")}
        low = high = np.nan
        if len(per_trial) >= 2:
            low, high = bootstrap_ci([a["pearson"] for a in per_trial], np.median, seed,
                                     n_resamples=4999, method="percentile")
        rows.append({"metric": metric, "scope": "within-trial", "n": len(per_trial), **within,
                     "pearson_ci_low": low, "pearson_ci_high": high})
    return pd.DataFrame(rows)[list(CORRELATION_COLUMNS)], merged


# ----------------------------------------------------------------------------- output
def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_target(path) as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)


def _markdown(table: pd.DataFrame, digits: int = 3) -> str:
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _conditions_plot(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()

    figure, axis = plt.subplots(figsize=(1.2 * len(table) + 2, 4))
    x = np.arange(len(table))
    axis.errorbar(x, table["mean"], yerr=[table["mean"] - table["ci_low"],
                                          table["ci_high"] - table["mean"]],
                  fmt="o", capsize=4, label="mean, 95 % bootstrap CI")
    axis.scatter(x + 0.15, table["median"], marker="_", s=200, color="k", label="median")
    axis.set_xticks(x, table["condition"], rotation=20)
    axis.set_ylim(0, 100)
    for edge in (20, 40, 60, 80):
        axis.axhline(edge, color="0.85", lw=0.8, zorder=0)
    axis.set_ylabel("MUSHRA rating")
    axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def _scatter_plot(merged: pd.DataFrame, metrics: list[str], path: Path) -> None:
    plt = pyplot()

    columns = min(4, len(metrics))
    rows = -(-len(metrics) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3 * rows), squeeze=False)
    for axis, metric in zip(axes.ravel(), metrics):
        for condition, group in merged.groupby("condition"):
            axis.scatter(group[metric], group["rating"], s=14, label=condition)
        usable = merged[[metric, "rating"]].dropna()
        usable = usable[np.isfinite(usable[metric])]
        if len(usable) >= 2 and usable[metric].nunique() > 1:
            slope, intercept = np.polyfit(usable[metric], usable["rating"], 1)
            grid = np.linspace(usable[metric].min(), usable[metric].max(), 2)
            axis.plot(grid, slope * grid + intercept, color="k", lw=1)
        axis.set_xlabel(metric)
        axis.set_ylabel("rating")
    for axis in axes.ravel()[len(metrics):]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)


def analyse(ratings: Path | None, db: Path | None, metrics: Path | None, out: Path,
            aggregate: str = "mean", reference: str = "reference",
            anchors: list[str] | tuple[str, ...] = ("anchor-3.5kHz", "anchor-7kHz"),
            mid_anchor: str | None = "anchor-7kHz", screen: bool = True,
            seed: int = 0) -> str:
    """Runs the whole analysis, writes its files into ``out`` and returns the Markdown
    report (also ``out/analysis.md``). ``out`` is replaced as a whole (see
    `gansep.atomic.replaced_folder`): it must be new, empty or an earlier analysis."""
    out = Path(out)
    table = read_ratings(ratings, db)
    metric_table = read_metrics(metrics) if metrics is not None else None
    items = item_ratings(table)
    sections = [f"# Listening test analysis\n\n{items['rater'].nunique()} raters, "
                f"{items['trial'].nunique()} trials, {items['condition'].nunique()} conditions, "
                f"{len(table)} ratings."]
    # Everything is computed first and written after: a refused analysis writes nothing.
    tables: dict[str, pd.DataFrame] = {}
    if screen:
        screened = tables["screening"] = screening(items, reference, mid_anchor)
        excluded = set(screened.loc[screened["excluded"], "rater"])
        sections.append("## Post-screening (BS.1534-3)\n\n" + _markdown(
            screened[["rater", "trials", "reference_below", "mid_anchor_above", "excluded",
                      "reason"]]))
        items = items[~items["rater"].isin(excluded)]
        if items.empty:
            raise ConfigError(f"post-screening excluded all {len(screened)} raters; nothing "
                              "left to analyse (reasons: "
                              f"{'; '.join(screened['reason'].head(3))})")
    conditions = tables["conditions"] = condition_table(items, seed)
    sections.append("## Ratings per condition\n\n" + _markdown(conditions, 1))
    tested = [c for c in conditions["condition"] if c != reference and c not in anchors]
    pairs = tables["pairs"] = paired_comparisons(
        items, tested if len(tested) >= 2 else list(conditions["condition"]))
    sections.append("## Paired comparisons (Wilcoxon, Holm-corrected)\n\n" + _markdown(pairs))
    if metric_table is not None:
        agreement, merged = correlations(items, metric_table, aggregate,
                                         (reference, *anchors), seed)
        tables["correlations"], tables["items"] = agreement, merged
        sections.append(f"## Metrics against ratings ({aggregate} over raters; hidden "
                        "reference and anchors left out)\n\n" + _markdown(agreement))
    report = "\n\n".join(sections) + "\n"
    # The whole output replaced at once: no table or figure of an earlier analysis (its
    # correlations, items, scatter plot) stays beside this one's.
    with replaced_folder(out, "gansep listen analyse") as folder:
        for name, frame in tables.items():
            _write_csv(frame, folder / f"{name}.csv")
        _conditions_plot(conditions, folder / "conditions.png")
        if metric_table is not None:
            names = [c for c in metric_table.columns if c not in ("trial", "condition")]
            _scatter_plot(tables["items"], names, folder / "scatter.png")
        with atomic_target(folder / "analysis.md") as tmp:
            Path(tmp).write_text(report)
    log.info("wrote %s", out)
    return report
