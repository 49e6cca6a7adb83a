"""``gansep listen fit-objective``: a monotone, interpretable model from reconstruction terms to
listening-test ratings (`gansep.eval.perceptual`), fitted by non-negative least squares
and judged by leave-one-trial-out cross-validation.

Every rated stimulus but the hidden reference is one item: its ratings are aggregated over
raters (mean or median), and every candidate term is computed on its exact excerpt, on the
separator's scale. The fit standardises each term over the items, then finds weights
``w >= 0`` and an intercept minimising the squared error of
``rating = intercept - sum_k w_k z_k`` (scipy's NNLS on centred data). Cross-validation holds
out one trial at a time (every stimulus of it), refits on the others (standardisation
included) and predicts the held-out items; the agreement of these out-of-fold predictions
with the ratings (Pearson, Spearman, Kendall) is set against that of every single term and
BSSEval metric, each cross-validated the same way as a one-variable linear fit.

With tens of rated trials, a model with more freedom (a neural metric) would fit the noise:
the weights here are few, signed by construction and readable.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gansep.atomic import atomic_target, sha256_file
from gansep.errors import ConfigError
from gansep.eval.perceptual import TERMS, PerceptualModel, term_values
from gansep.listen.analysis import item_ratings
from gansep.listen.build import REFERENCE, load_test
from gansep.listen.metrics import bsseval_metrics, rated_stimuli
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)

MIN_TRIALS = 4  # leave-one-trial-out then trains on >= 3 trials
MIN_RATERS = 2
BASELINES = ("SDR", "SIR", "SAR", "ISR")
TABLE_COLUMNS = ("predictor", "kind", "weight", "pearson", "spearman", "kendall", "rmse")


def fit_nnls(losses: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray, float]:
    """``(weights, means, stds, intercept)`` of ``ratings ~ intercept - sum w z`` with
    ``z = (losses - means) / stds`` and ``w >= 0``. A term constant over the items gets
    weight 0."""
    from scipy.optimize import nnls

    means = losses.mean(axis=0)
    stds = losses.std(axis=0)
    usable = stds > 1e-12 * np.maximum(np.abs(means), 1.0)
    stds = np.where(usable, stds, 1.0)
    design = -(losses - means) / stds
    design[:, ~usable] = 0.0
    weights, _ = nnls(design, ratings - ratings.mean())
    return weights, means, stds, float(ratings.mean())


def predict(losses: np.ndarray, weights, means, stds, intercept) -> np.ndarray:
    return intercept - ((losses - means) / stds) @ weights


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y ~ a + b x`` (b = 0 for a constant x)."""
    spread = x.std()
    if spread < 1e-12:
        return float(y.mean()), 0.0
    slope = float(np.cov(x, y, bias=True)[0, 1] / spread**2)
    return float(y.mean() - slope * x.mean()), slope


def agreement(predicted: np.ndarray, ratings: np.ndarray) -> dict[str, float]:
    """Pearson, Spearman, Kendall and RMSE of predictions against ratings."""
    from scipy.stats import kendalltau, pearsonr, spearmanr

    if np.std(predicted) < 1e-12:
        values = {"pearson": np.nan, "spearman": np.nan, "kendall": np.nan}
    else:
        values = {"pearson": float(pearsonr(predicted, ratings)[0]),
                  "spearman": float(spearmanr(predicted, ratings)[0]),
                  "kendall": float(kendalltau(predicted, ratings)[0])}
    return {**values, "rmse": float(np.sqrt(np.mean((predicted - ratings) ** 2)))}


def cross_validate(items: pd.DataFrame, terms: list[str], baselines: list[str]
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Out-of-fold predictions, leaving one trial out at a time: the model's, and each single
    predictor's (a one-variable linear fit)."""
    model = np.full(len(items), np.nan)
    single = {name: np.full(len(items), np.nan) for name in terms + baselines}
    ratings = items["rating"].to_numpy(float)
    for trial in items["trial"].unique():
        held = (items["trial"] == trial).to_numpy()
        train = ~held
        losses = items[terms].to_numpy(float)
        fitted = fit_nnls(losses[train], ratings[train])
        model[held] = predict(losses[held], *fitted)
        for name in single:
            x = items[name].to_numpy(float)
            a, b = fit_line(x[train], ratings[train])
            single[name][held] = a + b * x[held]
    return model, single


def item_table(ratings: pd.DataFrame, test_dir: Path, terms: dict[str, tuple[str, dict]],
               aggregate: str, exclude: tuple[str, ...]) -> pd.DataFrame:
    """One row per rated stimulus: trial, condition, the aggregated rating, every term and
    BSSEval metric."""
    per_rater = item_ratings(ratings[~ratings["condition"].isin(exclude)])
    aggregated = per_rater.groupby(["trial", "condition"], as_index=False)["rating"].agg(
        aggregate)
    rows = []
    for trial, condition, reference, interference, estimate, rate in rated_stimuli(test_dir):
        rows.append({"trial": trial, "condition": condition,
                     **term_values(reference, estimate, terms),
                     **bsseval_metrics(reference, interference, estimate, rate)})
    stimuli = pd.DataFrame(rows)
    merged = aggregated.merge(stimuli, on=["trial", "condition"], how="left", indicator=True)
    unknown = merged[merged["_merge"] == "left_only"]
    if len(unknown):
        row = unknown.iloc[0]
        raise ConfigError(f"the ratings name trial {row['trial']}, condition "
                          f"{row['condition']}, which {test_dir} has no stimulus for "
                          f"({len(unknown)} such item(s); ratings of another test?)")
    return merged.drop(columns="_merge")


def check_enough(ratings: pd.DataFrame, terms: list[str]) -> None:
    """ConfigError when leave-one-trial-out cross-validation cannot run on ``ratings`` (the
    stimuli fitted), saying how much data it needs."""
    trials = ratings["trial"].nunique()
    raters = ratings["rater"].nunique()
    if trials < MIN_TRIALS:
        raise ConfigError(f"{trials} rated trial(s): leave-one-trial-out cross-validation "
                          f"needs at least {MIN_TRIALS} (each fit then sees at least "
                          f"{MIN_TRIALS - 1}); rate more trials")
    if raters < MIN_RATERS:
        raise ConfigError(f"{raters} rater(s): the fit needs ratings of at least {MIN_RATERS} "
                          "raters, so that an item's rating is not one person's")
    items = ratings.drop_duplicates(["trial", "condition"])
    smallest = min(int((items["trial"] != t).sum()) for t in items["trial"].unique())
    if smallest < len(terms) + 2:
        raise ConfigError(f"a cross-validation fold keeps {smallest} rated stimuli for "
                          f"{len(terms)} terms and an intercept: it needs at least "
                          f"{len(terms) + 2}; rate more trials or pass fewer --terms")


def _hash_table(ratings: pd.DataFrame) -> str:
    text = ratings.sort_values(["rater", "trial", "condition"]).to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def fit_objective(ratings: pd.DataFrame, test_dir: Path, out: Path, terms: list[str] | None = None,
                  aggregate: str = "mean", exclude: tuple[str, ...] = (),
                  ratings_source: str = "") -> tuple[PerceptualModel, pd.DataFrame]:
    """Fits, cross-validates and writes the model (see the module docstring) under ``out``:
    ``objective.yaml``, ``perceptual.json`` (model and provenance), ``fit.csv`` / ``fit.md``
    (the out-of-fold agreement table), ``items.csv`` and ``fit-scatter.png``. Returns the
    model and the table."""
    test_dir = Path(test_dir)
    description = load_test(test_dir)
    names = list(terms or TERMS)
    unknown = [name for name in names if name not in TERMS]
    if unknown:
        raise ConfigError(f"--terms: unknown term(s) {', '.join(unknown)} (known: "
                          f"{', '.join(TERMS)})")
    chosen = {name: TERMS[name] for name in names}
    check_enough(ratings[~ratings["condition"].isin((REFERENCE, *exclude))], names)
    items = item_table(ratings, test_dir, chosen, aggregate, (REFERENCE, *exclude))
    y = items["rating"].to_numpy(float)
    weights, means, stds, intercept = fit_nnls(items[names].to_numpy(float), y)
    if not np.any(weights > 0):  # an objective without terms would train nothing
        raise ConfigError(f"the fit gives every term weight 0 (the ratings do not fall as any "
                          f"of {', '.join(names)} grows: constant ratings, or ratings of "
                          "another test?); nothing written")
    oof, single = cross_validate(items, names, list(BASELINES))
    items["predicted_out_of_fold"] = oof
    rows = [{"predictor": "fitted model", "kind": "model", "weight": np.nan,
             **agreement(oof, y)}]
    for name in names + list(BASELINES):
        rows.append({"predictor": name, "kind": "term" if name in chosen else "metric",
                     "weight": float(weights[names.index(name)]) if name in chosen else np.nan,
                     **agreement(single[name], y)})
    table = pd.DataFrame(rows)[list(TABLE_COLUMNS)]
    model = PerceptualModel(
        terms=chosen, weights=dict(zip(names, map(float, weights))),
        means=dict(zip(names, map(float, means))), stds=dict(zip(names, map(float, stds))),
        intercept=intercept, rate=int(description["rate"]),
        excerpt_seconds=float(description["seconds"]), source=description["source"],
        provenance={"ratings": ratings_source, "ratings_sha256": _hash_table(ratings),
                    "test": str(test_dir), "test_sha256": sha256_file(test_dir / "test.json"),
                    "aggregate": aggregate, "excluded": [REFERENCE, *exclude],
                    "trials": int(items["trial"].nunique()),
                    "raters": int(ratings["rater"].nunique()), "items": len(items),
                    "cross_validation": "leave-one-trial-out",
                    "out_of_fold": {k: v for k, v in rows[0].items()
                                    if k in ("pearson", "spearman", "kendall", "rmse")}})
    _write(out, model, table, items)
    return model, table


def markdown(table: pd.DataFrame, model: PerceptualModel) -> str:
    p = model.provenance
    lines = [f"Perceptual objective: {p['items']} rated stimuli of {p['trials']} trials, "
             f"{p['raters']} raters ({p['aggregate']} rating per stimulus); agreement of "
             "out-of-fold predictions (leave-one-trial-out) with the ratings. `weight`: rating "
             "points per standard deviation of the term.", "",
             "| predictor | kind | weight | Pearson | Spearman | Kendall | RMSE |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in table.itertuples():
        weight = "" if np.isnan(row.weight) else f"{row.weight:.2f}"
        lines.append(f"| {row.predictor} | {row.kind} | {weight} | {row.pearson:.3f} | "
                     f"{row.spearman:.3f} | {row.kendall:.3f} | {row.rmse:.1f} |")
    used = ", ".join(f"{name} {w:.2f}" for name, w in model.weights.items() if w > 0)
    return "\n".join(lines) + f"\n\nFitted on all trials: intercept {model.intercept:.1f}; " \
        f"weights {used or 'none (no term predicts the ratings)'}.\n"


def _write(out: Path, model: PerceptualModel, table: pd.DataFrame, items: pd.DataFrame) -> None:
    out = Path(out)
    model.save(out)
    for name, frame in (("fit.csv", table), ("items.csv", items)):
        with atomic_target(out / name) as tmp:
            frame.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    with atomic_target(out / "fit.md") as tmp:
        Path(tmp).write_text(markdown(table, model))
    _scatter(out / "fit-scatter.png", items, table)
    log.info("wrote %s: objective.yaml, perceptual.json, fit.csv, fit.md, items.csv, "
             "fit-scatter.png", out)


def _scatter(path: Path, items: pd.DataFrame, table: pd.DataFrame) -> None:
    plt = pyplot()

    singles = table[table["kind"] != "model"].dropna(subset=["pearson"])
    best = singles.loc[singles["pearson"].idxmax(), "predictor"] if len(singles) else None
    figure, axes = plt.subplots(1, 2 if best else 1, figsize=(9 if best else 4.5, 4),
                                squeeze=False)
    axes[0, 0].scatter(items["predicted_out_of_fold"], items["rating"], s=14)
    axes[0, 0].set_xlabel("fitted model, out of fold")
    if best:
        axes[0, 1].scatter(items[best], items["rating"], s=14, color="tab:orange")
        axes[0, 1].set_xlabel(f"{best} (best single predictor)")
    for axis in axes[0]:
        axis.set_ylabel("rating")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
