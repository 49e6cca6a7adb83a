"""The perceptual objective: NNLS recovers known weights, leave-one-trial-out agreement beats
every single term, too little data is refused, the fitted objective trains, and the fitted
score is reported by evaluate, score, compare and the validation callback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gansep.errors import ConfigError
from gansep.eval.perceptual import TERMS, PerceptualModel, PerceptualScore, term_values
from gansep.listen.fit import cross_validate, fit_nnls, fit_objective
from tests.listen.conftest import make_condition

TRUE = {"stft-1024": 10.0, "l1": 6.0, "sisdr": 0.0}  # rating points per standard deviation


def test_nnls_recovers_known_weights_within_the_noise():
    rng = np.random.default_rng(0)
    n = 400
    shared = rng.normal(size=n)
    losses = np.stack([1.0 + 0.3 * (shared + rng.normal(size=n)),       # correlated terms
                       5.0 + 2.0 * (0.5 * shared + rng.normal(size=n)),
                       -20 + 4.0 * rng.normal(size=n)], axis=1)
    truth = np.array([8.0, 3.0, 0.0])
    z = (losses - losses.mean(0)) / losses.std(0)
    ratings = 60 - z @ truth + rng.normal(0, 2.0, n)
    weights, means, stds, intercept = fit_nnls(losses, ratings)
    # Standard error of each weight ~ noise / sqrt(n) (inflated by the correlation): 0.1-0.2.
    np.testing.assert_allclose(weights, truth, atol=0.6)
    assert intercept == pytest.approx(ratings.mean())
    assert (weights >= 0).all()
    # A term that could only raise the rating by growing gets weight 0, not a negative one.
    flipped = fit_nnls(np.stack([losses[:, 0], -losses[:, 1]], axis=1), ratings)[0]
    assert flipped[1] == 0.0 and flipped[0] > 0


def test_out_of_fold_agreement_beats_every_single_term():
    rng = np.random.default_rng(1)
    rows = []
    for trial in range(10):
        for condition in range(5):
            values = {"a": rng.normal(), "b": rng.normal(), "c": rng.normal()}
            rows.append({"trial": f"t{trial}", "condition": f"c{condition}", **values,
                         "rating": 50 - 8 * values["a"] - 6 * values["b"] + rng.normal(0, 2)})
    items = pd.DataFrame(rows)
    model, single = cross_validate(items, ["a", "b", "c"], [])
    ratings = items["rating"].to_numpy()
    assert not np.isnan(model).any()
    best_single = max(np.corrcoef(p, ratings)[0, 1] for p in single.values())
    assert np.corrcoef(model, ratings)[0, 1] > best_single + 0.1


@pytest.fixture(scope="module")
def rated_test(tmp_path_factory):
    """A listening test of 6 trials, four conditions that hurt different terms (faint and
    heavy noise, a quieter copy that SI-SDR forgives, a muffled low-passed copy), and three
    simulated raters whose ratings follow :data:`TRUE` plus noise."""
    from gansep.data.audio import read_audio, write_audio
    from gansep.data.toy import make_toy_dataset
    from gansep.listen.build import build_test
    from gansep.listen.metrics import rated_stimuli
    from gansep.listen.stimuli import lowpass

    root = tmp_path_factory.mktemp("fit")
    references = make_toy_dataset(root / "toy", seed=7, duration=4.0, tracks={"test": 6}) / "test"
    conditions = {"faint": make_condition(references, root / "faint", 0.1, 1),
                  "noisy": make_condition(references, root / "noisy", 0.8, 2)}
    for name, change in (("quiet", lambda a, r: 0.6 * a),
                         ("muffled", lambda a, r: lowpass(a, 1500.0, r).astype(np.float32))):
        for track in sorted(references.iterdir()):
            audio, rate = read_audio(track / "vocals.wav")
            write_audio(root / name / track.name / "vocals.wav", change(audio, rate), rate,
                        subtype="FLOAT")
        conditions[name] = root / name
    test = root / "test"
    build_test(references, conditions, "vocals", trials=6, seconds=1.5, out=test, seed=0)
    items = [(trial, condition, term_values(reference, estimate,
                                            {name: TERMS[name] for name in TRUE}))
             for trial, condition, reference, _, estimate, _ in rated_stimuli(test)]
    table = pd.DataFrame([{**values} for _, _, values in items])
    z = (table - table.mean()) / table.std(ddof=0)
    quality = dict(zip([(t, c) for t, c, _ in items],
                       70 - sum(w * z[name] for name, w in TRUE.items())))
    # Three raters rate every trial through the real server; the ratings are then exported
    # in the real format (rater,trial,condition,rating,...).
    from starlette.testclient import TestClient

    from gansep.listen.build import load_test
    from gansep.listen.server import create_app
    from gansep.listen.simulate import run_rater
    from gansep.listen.store import export_csv

    client = TestClient(create_app(test, root / "ratings.sqlite"))

    def post(path, body):
        response = client.post(path, json=body)
        return response.status_code, response.json()

    rng = np.random.default_rng(3)
    for _ in range(3):
        records = run_rater(post, load_test(test), lambda t, c: quality.get((t, c), 100.0),
                            rng, noise=3.0)
        assert all(r["status"] == 200 for r in records)
    export_csv(root / "ratings.sqlite", root / "ratings.csv")
    return {"test": test, "ratings": root / "ratings.csv", "root": root, "items": len(items)}


@pytest.fixture(scope="module")
def fitted(rated_test):
    """The objective fitted through the command line, in the real ratings format."""
    from gansep.cli.main import main

    out = rated_test["root"] / "objective"
    assert main(["listen", "fit-objective", "--ratings", str(rated_test["ratings"]), "--test",
                 str(rated_test["test"]), "--terms", "l1", "stft-1024", "sisdr", "--out",
                 str(out)]) == 0
    return out


@pytest.mark.slow
def test_fit_end_to_end_recovers_the_raters_weighting(rated_test, fitted):
    out = fitted
    model = PerceptualModel.load(out)
    assert model.weights["stft-1024"] == pytest.approx(TRUE["stft-1024"], abs=3.0)
    assert model.weights["l1"] == pytest.approx(TRUE["l1"], abs=3.0)
    assert model.weights["sisdr"] < 3.0
    assert model.provenance["trials"] == 6 and model.provenance["raters"] == 3
    assert model.provenance["items"] == rated_test["items"]  # anchors included, reference not
    table = pd.read_csv(out / "fit.csv")
    fitted = table[table["kind"] == "model"].iloc[0]
    singles = table[table["kind"] != "model"]
    assert set(singles["predictor"]) == {"l1", "stft-1024", "sisdr", "SDR", "SIR", "SAR", "ISR"}
    assert fitted["pearson"] > singles["pearson"].max()
    assert fitted["pearson"] > 0.9
    for name in ("objective.yaml", "fit.md", "items.csv", "fit-scatter.png"):
        assert (out / name).stat().st_size > 0
    # The objective is the model without its constants: weights / std / 100 per used term.
    import yaml

    objective = yaml.safe_load((out / "objective.yaml").read_text())
    terms = objective["init_args"]["reconstruction"]
    assert objective["init_args"]["adversarial"] is None
    by_class = {t["class_path"]: t["init_args"]["weight"] for t in terms}
    assert by_class["gansep.losses.L1"] == pytest.approx(
        model.weights["l1"] / model.stds["l1"] / 100)


@pytest.mark.slow
def test_too_little_data_is_refused(built_test, rated_test, tmp_path):
    ratings = pd.read_csv(rated_test["ratings"], dtype={"trial": str, "rater": str})
    three_trials = pd.DataFrame([{"rater": r, "trial": t["id"], "condition": s["condition"],
                                  "rating": 50.0}
                                 for t in json.loads((built_test / "test.json").read_text())
                                 ["trials"] if not t["training"]
                                 for s in t["stimuli"] for r in ("a", "b")])
    with pytest.raises(ConfigError, match=r"3 rated trial\(s\).* needs at least 4"):
        fit_objective(three_trials, built_test, tmp_path / "a")
    with pytest.raises(ConfigError, match=r"1 rater\(s\).* at least 2 raters"):
        fit_objective(ratings[ratings["rater"] == ratings["rater"].iloc[0]], rated_test["test"],
                      tmp_path / "b")
    with pytest.raises(ConfigError, match=r"unknown term\(s\) nope"):
        fit_objective(ratings, rated_test["test"], tmp_path / "c", terms=["l1", "nope"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_the_fitted_objective_trains_a_demo_model(fitted, toy_root, tmp_path, monkeypatch):
    from gansep.cli.lightning import lightning_cli

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    cli = lightning_cli(["--config", str(root / "configs" / "demo.yaml"),
                         "--model.init_args.objective", str(fitted / "objective.yaml"),
                         "--trainer.logger", "false", "--trainer.max_steps", "3",
                         "--trainer.limit_val_batches", "0", "--trainer.callbacks", "[]",
                         "--trainer.enable_checkpointing", "false",
                         "--data.batch_size", "2", "--data.excerpts_per_epoch", "6",
                         "--data.collection.init_args.root", str(toy_root)], run=False)
    names = {term.name for term in cli.model.objective.reconstruction}
    assert names == {name for name, (path, _) in PerceptualModel.load(fitted).used.items()
                     for name in [{"gansep.losses.L1": "l1",
                                   "gansep.losses.MultiResolutionSTFT": "mrstft",
                                   "gansep.losses.SISDR": "sisdr"}[path]]}
    before = [p.detach().clone() for p in cli.model.generator.parameters()]
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.trainer.global_step == 3
    assert math.isfinite(float(cli.trainer.callback_metrics["train/loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, cli.model.generator.parameters()))


@pytest.mark.slow
def test_perceptual_score_prefers_the_better_estimate_and_is_a_window_median(fitted):
    score = PerceptualScore(fitted)
    rng = np.random.default_rng(0)
    rate = score.model.rate
    reference = (0.1 * rng.standard_normal((2, 4 * rate))).astype(np.float32)
    good = reference + 0.01 * rng.standard_normal(reference.shape).astype(np.float32)
    bad = reference + 0.2 * rng.standard_normal(reference.shape).astype(np.float32)
    value, windows = score.score_track(reference, good, rate)
    assert windows == 2  # 4 s in 1.5 s windows: two whole ones, the 1 s rest is cut
    span = int(1.5 * rate)
    by_hand = np.median([score.score(reference[:, a:a + span], good[:, a:a + span])
                         for a in (0, span)])
    assert value == pytest.approx(by_hand)
    assert value > score.score_track(reference, bad, rate)[0]
    silent = np.zeros_like(reference)
    assert math.isnan(score.score_track(silent, good, rate)[0])
    resampled = score.score_track(reference[:, ::2], good[:, ::2], rate // 2)  # other rate
    assert resampled[1] == 2 and math.isfinite(resampled[0])
    with pytest.raises(ConfigError, match="not a fitted perceptual objective"):
        PerceptualScore(fitted.parent)


@pytest.mark.slow
def test_score_and_compare_report_and_rank_by_the_perceptual_score(fitted, rated_test,
                                                                   tmp_path):
    from gansep.eval.evaluate import score_folders
    from gansep.experiments.compare import compare_runs

    from gansep.eval.metrics import standard_metrics

    references = rated_test["root"] / "toy" / "test"
    metrics = standard_metrics(perceptual=fitted)
    for name, objective in (("faint", "runs/perceptual/objective.yaml"),
                            ("noisy", "configs/objectives/noisy.yaml")):
        out = tmp_path / "runs" / name / "results"
        assert score_folders(references, rated_test["root"] / name, out, metrics) == 0
        result = json.loads(next((out / "test").glob("*.json")).read_text())
        assert result["gansep_provenance"]["perceptual_sha256"]
        assert isinstance(result["targets"][0]["Perceptual"], float)
        # One source scored: SIR is undefined (infinite in BSSEval), stored as null.
        assert result["targets"][0]["frames"][0]["metrics"]["SIR"] is None
        assert "Perceptual" in (out / "results.md").read_text()
        (out.parent / "params.json").write_text(json.dumps(
            {"model.init_args.objective": objective}))
    compare_runs([tmp_path / "runs" / "faint", tmp_path / "runs" / "noisy"],
                 tmp_path / "comparison")
    ranking = (tmp_path / "comparison" / "compare-perceptual.md").read_text().splitlines()
    # A fitted objective (DIR/objective.yaml) is labelled by its folder.
    assert ranking[2].startswith("| perceptual | vocals") and ranking[3].startswith("| noisy |")


@pytest.mark.slow
def test_the_validation_callback_logs_the_perceptual_score(fitted, toy_root):
    import pytorch_lightning as pl

    from gansep.data import SeparationData, StemsFolder
    from gansep.training import Separator
    from gansep.training.callbacks import SeparationMetrics
    from tests.conftest import tiny_generator

    module = Separator(tiny_generator())
    data = SeparationData(StemsFolder(toy_root), batch_size=2, excerpts_per_epoch=2,
                          valid_excerpts_per_track=1)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0,
                         callbacks=[SeparationMetrics(duration=3.0, audio_tracks=0,
                                                      perceptual=str(fitted))])
    trainer.fit(module, data)
    for source in ("vocals", "accompaniment"):
        assert math.isfinite(float(trainer.callback_metrics[f"val/perceptual/{source}"]))
