"""gansep sweep (wandb sweep files, run locally) and gansep compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import wilcoxon

from gansep.experiments.sweep import SweepError, expand, run_name, run_sweep
from gansep.atomic import write_json_atomic
from gansep.eval.results import museval_json
from tests.cli.test_cli import ROOT


pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

def test_grid_expansion():
    sweep = {"method": "grid", "parameters": {
        "model.init_args.objective": {"values": ["a.yaml", "b.yaml", "c.yaml"]},
        "seed_everything": {"values": [0, 1]}, "trainer.max_steps": {"value": 5}}}
    runs = expand(sweep)
    assert len(runs) == 6
    assert runs[0] == {"model.init_args.objective": "a.yaml", "seed_everything": 0,
                       "trainer.max_steps": 5}
    assert {(r["model.init_args.objective"], r["seed_everything"]) for r in runs} == {
        (o, s) for o in ("a.yaml", "b.yaml", "c.yaml") for s in (0, 1)}
    assert len(expand(sweep, max_runs=4)) == 4
    assert len({run_name(r) for r in runs}) == 6


def test_random_expansion_and_errors():
    sweep = {"method": "random", "run_cap": 5, "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-3},
        "steps": {"distribution": "int_uniform", "min": 1, "max": 3},
        "objective": {"values": ["x", "y"]}}}
    runs = expand(sweep, seed=1)
    assert len(runs) == 5 and runs == expand(sweep, seed=1)
    assert all(1e-5 <= r["lr"] <= 1e-3 and r["steps"] in (1, 2, 3) for r in runs)
    with pytest.raises(SweepError, match="grid sweeps need 'values'"):
        expand({"method": "grid", "parameters": {"lr": {"distribution": "uniform"}}})
    with pytest.raises(SweepError, match="method 'bayes' is not supported"):
        expand({"method": "bayes", "parameters": {"a": {"value": 1}}})


def sweep_file(tmp_path, toy_root):
    sweep = {
        "method": "grid",
        "parameters": {
            "model.init_args.objective": {"values": [
                str(ROOT / "configs/objectives/l1.yaml"), str(tmp_path / "missing.yaml")]},
            "seed_everything": {"value": 0},
            "trainer.max_steps": {"value": 2},
            "data.collection.init_args.root": {"value": str(toy_root)},
        },
        "command": ["${env}", "gansep", "fit", "--config", str(ROOT / "configs/demo-gan.yaml"),
                    "--model.init_args.generator.init_args.levels=3",
                    "--model.init_args.generator.init_args.output_length=512",
                    "--data.batch_size=2", "--data.excerpts_per_epoch=4",
                    "--trainer.callbacks.init_args.monitor=null",
                    "--trainer.enable_progress_bar=false", "${args}"],
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_sweep_runs_records_failures_and_resumes(cli, tmp_path, toy_root):
    path = sweep_file(tmp_path, toy_root)
    runs = tmp_path / "runs"
    out = cli(["sweep", str(path), "--runs-dir", str(runs), "--parallel", "2"], tmp_path,
              check=False)
    assert out.returncode == 1  # one run failed, the sweep still went on
    statuses = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/status.json")}
    assert sorted(s["status"] for s in statuses.values()) == ["failed", "finished"]
    finished = next(runs / n for n, s in statuses.items() if s["status"] == "finished")
    assert (finished / "checkpoints" / "last.ckpt").is_file()
    assert len(list((finished / "results" / "test").glob("*.json"))) == 2
    config = yaml.safe_load((finished / "logs" / "run" / "train" / "config.yaml").read_text())
    assert config["trainer"]["max_steps"] == 2  # the parameter reached the run's config
    assert config["model"]["init_args"]["objective"]["init_args"]["reconstruction"][0][
        "class_path"] == "gansep.losses.L1"
    stamp = (finished / "status.json").stat().st_mtime_ns
    again = cli(["sweep", str(path), "--runs-dir", str(runs)], tmp_path, check=False)
    assert "0 finished, 1 skipped (finished earlier), 1 failed" in again.stderr
    assert (finished / "status.json").stat().st_mtime_ns == stamp


def fake_run(folder, objective, tracks):
    """A run folder whose results give SDR ``tracks[name]`` (one frame) for vocals, and an
    SI-SDR 1 dB below it."""
    write_json_atomic(folder / "params.json", {"model.init_args.objective":
                                               f"configs/objectives/{objective}.yaml"})
    write_json_atomic(folder / "status.json", {"status": "finished"})
    for name, sdr in tracks.items():
        scores = {m: np.array([[sdr]]) for m in ("SDR", "SIR", "SAR", "ISR")}
        write_json_atomic(folder / "results" / "test" / f"{name}.json",
                          museval_json(scores, ["vocals"], si_sdr=[sdr - 1.0]))


def test_compare_tables_statistics_and_plot(cli, tmp_path):
    base = {"t1": 1.0, "t2": 2.0, "t3": 3.0, "t4": 4.0, "t5": 5.0}
    runs = tmp_path / "runs"
    fake_run(runs / "l1-0", "l1", base)
    fake_run(runs / "gan-0", "gan", {t: v + d for (t, v), d in zip(base.items(),
                                                                   [0.5, 1.0, 1.5, 2.5, -0.5])})
    fake_run(runs / "gan-1", "gan", {t: v + d for (t, v), d in zip(base.items(),
                                                                   [1.5, 1.0, 0.5, 1.5, 0.5])})
    cli(["compare", str(runs), "--baseline", "l1", "--out", str(tmp_path / "cmp")], tmp_path)
    import pandas as pd

    from gansep.eval.statistics import rank_biserial

    table = pd.read_csv(tmp_path / "cmp" / "compare-sdr.csv")
    rows = table[table.source == "vocals"].set_index("objective")
    # gan pools 10 values: per-track values of both seeds.
    pooled = [1.5, 3.0, 4.5, 6.5, 4.5, 2.5, 3.0, 3.5, 5.5, 5.5]
    q1, median, q3 = np.percentile(pooled, [25, 50, 75])
    assert rows.loc["gan", ["median", "q1", "q3"]].tolist() == pytest.approx([median, q1, q3])
    assert rows.loc["gan", "n"] == 10 and rows.loc["l1", "median"] == 3.0
    # Paired over tracks, each track averaged over seeds: differences 1, 1, 1, 2, 0.
    differences = [1.0, 1.0, 1.0, 2.0, 0.0]
    assert rows.loc["gan", "median_difference"] == np.median(differences)
    assert rows.loc["gan", "p_value"] == pytest.approx(wilcoxon(differences).pvalue, rel=1e-5)
    # One objective against the baseline: Holm changes nothing.
    assert rows.loc["gan", "p_holm"] == rows.loc["gan", "p_value"]
    assert rows.loc["gan", "effect_size"] == pytest.approx(rank_biserial(differences))
    assert rows.loc["gan", "difference_low"] <= 1.0 <= rows.loc["gan", "difference_high"]
    assert np.isnan(rows.loc["l1", "median_difference"])  # the baseline
    si = pd.read_csv(tmp_path / "cmp" / "compare-si-sdr.csv")
    si = si[si.source == "vocals"].set_index("objective")
    assert si.loc["gan", "median"] == pytest.approx(median - 1)
    assert si.loc["gan", "median_difference"] == rows.loc["gan", "median_difference"]
    png = (tmp_path / "cmp" / "sdr-boxplot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    bad = cli(["compare", str(runs), "--baseline", "l3", "--out", str(tmp_path / "x")],
              tmp_path, check=False)
    assert bad.returncode == 2 and "baseline 'l3' is none of the objectives" in bad.stderr


def test_sweep_passes_the_perceptual_score_to_evaluate(tmp_path, monkeypatch):
    import subprocess

    from gansep.experiments import sweep as module

    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        save_dir = next((a.split("=", 1)[1] for a in command
                         if a.startswith("--trainer.logger.init_args.save_dir=")), None)
        if save_dir:  # the fit: leave the resolved config evaluate reads its data root from
            config = Path(save_dir) / "run" / "train" / "config.yaml"
            config.parent.mkdir(parents=True)
            config.write_text(yaml.safe_dump({"data": {"collection": {"init_args": {
                "root": "data/toy"}}}}))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    sweep = {"parameters": {"seed_everything": {"value": 0}}}
    assert module.execute(sweep, {"seed_everything": 0}, tmp_path / "runs",
                          perceptual=tmp_path / "perceptual") == "finished"
    assert calls[1][3] == "evaluate"
    assert calls[1][-2:] == ["--perceptual", str(tmp_path / "perceptual")]


def test_compare_labels_runs_by_every_parameter_but_the_seed(tmp_path):
    """Runs of one objective on two datasets are two rows, never pooled; seeds are pooled."""
    from gansep.experiments.compare import run_labels

    runs = []
    for root in ("data/ambiguous", "data/ambiguous-timbre"):
        for seed in (0, 1):
            run = tmp_path / f"{Path(root).name}-{seed}"
            run.mkdir()
            (run / "params.json").write_text(json.dumps({
                "data.collection.init_args.root": root, "seed_everything": seed,
                "model.init_args.objective": "configs/objectives/l1.yaml",
                "trainer.max_steps": 300}))
            runs.append(run)
    labels = run_labels(runs)
    assert [labels[r] for r in runs] == ["l1 root=ambiguous"] * 2 + ["l1 root=ambiguous-timbre"] * 2
    assert run_labels(runs[:2]) == {runs[0]: "l1", runs[1]: "l1"}
    # A preset path is labelled by its name, without .yaml.
    for run, generator in zip(runs[:2], ("demo", "demo-htdemucs")):
        params = json.loads((run / "params.json").read_text())
        params["model.init_args.generator"] = f"configs/models/{generator}.yaml"
        (run / "params.json").write_text(json.dumps(params))
    assert list(run_labels(runs[:2]).values()) == ["l1 generator=demo",
                                                   "l1 generator=demo-htdemucs"]


def two_stage_file(tmp_path, data, pretrain_objective="l1"):
    """A two-stage sweep: one L1 pretraining run on ``data``, then L1 and L2 fine-tuned from
    it, at a few steps."""
    command = ["${env}", "gansep", "fit", "--config", str(ROOT / "configs/demo-gan.yaml"),
               "--model.init_args.generator.init_args.levels=3",
               "--model.init_args.generator.init_args.output_length=512",
               "--data.batch_size=2", "--data.excerpts_per_epoch=4",
               "--trainer.callbacks.init_args.monitor=null",
               "--trainer.enable_progress_bar=false", "${args}"]
    objective = str(ROOT / f"configs/objectives/{pretrain_objective}.yaml") \
        if pretrain_objective else str(tmp_path / "missing.yaml")
    sweep = {
        "method": "grid", "command": command,
        "pretrain": {"parameters": {
            "data.collection.init_args.root": {"value": str(data)},
            "seed_everything": {"value": 0},
            "model.init_args.objective": {"value": objective},
            "trainer.max_steps": {"value": 2}}},
        "parameters": {
            "data.collection.init_args.root": {"value": str(data)},
            "seed_everything": {"value": 0},
            "model.init_args.objective": {"values": [str(ROOT / "configs/objectives/l1.yaml"),
                                                     str(ROOT / "configs/objectives/l2.yaml")]},
            "trainer.max_steps": {"value": 2}},
    }
    path = tmp_path / "two-stage.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_two_stage_sweep_fine_tunes_every_objective_from_one_pretraining(cli, tmp_path,
                                                                        toy_root):
    data = tmp_path / "data"
    shutil.copytree(toy_root, data)
    path, runs = two_stage_file(tmp_path, data), tmp_path / "runs"
    out = cli(["sweep", str(path), "--runs-dir", str(runs), "--no-evaluate"], tmp_path)
    assert "sweep done: 3 finished, 0 skipped" in out.stderr
    [pretrained] = [p.parent for p in (runs / "pretrain").glob("*/status.json")]
    recorded = json.loads((pretrained / "data.json").read_text())
    assert recorded["root"] == str(data.resolve()) and "train/toy-train-000/mixture.wav" in \
        recorded["files"]
    # Each objective's run started from the pretraining run's last checkpoint; the pairs of
    # runs share the objective-independent parameters, and compare sees only the fine-tunes.
    finetuned = sorted(p.parent for p in runs.glob("*/status.json"))
    assert len(finetuned) == 2
    for run_dir in finetuned:
        command = (run_dir / "command.txt").read_text()
        assert f"--model.init_args.init_from={pretrained / 'checkpoints' / 'last.ckpt'}" \
            in command
        assert "generator initialised from" in (run_dir / "train.log").read_text()
        assert "model.init_args.init_from" not in json.loads(
            (run_dir / "params.json").read_text())
    # A second invocation skips all three; with the data changed, a fine-tuning run that has
    # to run again is refused (its pretraining saw other data), the finished ones stay.
    again = cli(["sweep", str(path), "--runs-dir", str(runs), "--no-evaluate"], tmp_path)
    assert "0 finished, 3 skipped" in again.stderr
    (finetuned[0] / "status.json").unlink()
    wav = data / "train" / "toy-train-000" / "vocals.wav"
    audio = bytearray(wav.read_bytes())
    audio[-4000:-3996] = bytes(255 - b for b in audio[-4000:-3996])
    wav.write_bytes(bytes(audio))
    refused = cli(["sweep", str(path), "--runs-dir", str(runs), "--no-evaluate"], tmp_path,
                  check=False)
    assert refused.returncode == 1
    status = json.loads((finetuned[0] / "status.json").read_text())
    assert status["status"] == "failed" and "was trained on other data" in status["refused"]
    assert "train/toy-train-000/vocals.wav" in status["refused"]
    assert json.loads((finetuned[1] / "status.json").read_text())["status"] == "finished"


def test_two_stage_sweep_refuses_runs_whose_pretraining_failed(cli, tmp_path, toy_root):
    path = two_stage_file(tmp_path, toy_root, pretrain_objective=None)
    runs = tmp_path / "runs"
    out = cli(["sweep", str(path), "--runs-dir", str(runs), "--no-evaluate"], tmp_path,
              check=False)
    assert out.returncode == 1 and "0 finished, 0 skipped (finished earlier), 3 failed" \
        in out.stderr
    for status_path in runs.glob("*/status.json"):
        status = json.loads(status_path.read_text())
        assert "did not finish" in status["refused"]
        assert not (status_path.parent / "logs").exists()  # nothing was trained


def test_two_stage_sweep_pairs_each_run_with_exactly_one_pretraining(tmp_path):
    sweep = {"method": "grid",
             "pretrain": {"parameters": {"seed_everything": {"values": [0, 1]}}},
             "parameters": {"seed_everything": {"values": [0, 2]},
                            "model.init_args.objective": {"value": "l1.yaml"}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(SweepError, match="0 pretraining runs agree with it on "
                                         "seed_everything \\(pretrain.match"):
        run_sweep(path, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    sweep["pretrain"] = ["not", "a", "mapping"]
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(SweepError, match="pretrain: expected a mapping with 'parameters'"):
        run_sweep(path, tmp_path / "runs")
