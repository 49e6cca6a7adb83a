"""End to end: the gansep command in real subprocesses (the describe and help checks in this
process), on tiny data and a tiny model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from gansep.eval.results import read_track_scores
from tests.conftest import GANSEP

pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

ROOT = Path(__file__).resolve().parents[2]
TINY_MODEL = [
    "--model.init_args.generator.init_args.levels", "3",
    "--model.init_args.generator.init_args.extra_filters", "4",
    "--model.init_args.generator.init_args.output_length", "512",
]


def run(args, cwd, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(GANSEP + args, cwd=cwd, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    if check and result.returncode != 0:
        raise AssertionError(f"gansep {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_describe_m4_prints_paper_lengths(cli):
    out = cli(["describe", "--config", "configs/models/m4.yaml"], ROOT)
    text = out.stdout + out.stderr
    assert "147443 samples (6.6868 s)" in text and "16389 samples" in text
    assert "65527 samples left" in text and "10,263,390" in text


def test_describe_reads_a_run_config(cli):
    out = cli(["describe", "--config", "configs/demo.yaml"], ROOT)
    assert "10227 samples" in out.stdout + out.stderr


def test_describe_bad_config(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: {max_epochs: 1}\n")
    out = cli(["describe", "--config", str(bad)], ROOT, check=False)
    assert out.returncode != 0 and "bad.yaml holds neither a generator" in out.stderr


def test_print_config_resolves_presets(cli):
    out = cli(["fit", "--config", "configs/demo.yaml", "--print_config"], ROOT)
    assert "class_path: gansep.models.WaveUNet" in out.stdout
    assert "levels: 6" in out.stdout and "class_path: gansep.losses.L1" in out.stdout


def test_make_data_fit_test(cli, tmp_path):
    data = tmp_path / "toy"
    cli(["make-data", "toy", str(data), "--duration", "2", "--train", "2", "--valid", "1",
         "--test", "1"], tmp_path)
    assert sorted(p.name for p in (data / "test" / "toy-test-000").iterdir()) == [
        "bass.wav", "drums.wav", "mixture.wav", "other.wav", "vocals.wav"]
    common = ["--config", str(ROOT / "configs/demo.yaml"), *TINY_MODEL,
              "--data.collection.init_args.root", str(data),
              "--data.batch_size", "2", "--data.excerpts_per_epoch", "6",
              "--trainer.enable_progress_bar", "false",
              "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
              "--trainer.callbacks.init_args.dirpath", str(tmp_path / "ckpt")]
    run(["fit", *common, "--trainer.max_epochs", "2"], tmp_path)
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    assert ckpt.is_file()
    assert torch.load(ckpt, weights_only=True)["global_step"] == 6
    out = run(["test", *common, "--ckpt_path", str(ckpt)], tmp_path)
    text = out.stdout + out.stderr
    assert "| source | gansep SDR (dB) | mixture SDR (dB) |" in text
    # Results as gansep evaluate writes them: museval's format, one file per track, a table,
    # in a folder of the test's own below the run's.
    log_dir = tmp_path / "runs" / "demo" / "l1" / "test"
    for folder in (log_dir, log_dir / "mixture"):
        result = json.loads((folder / "test" / "toy-test-000.json").read_text())
        assert [t["name"] for t in result["targets"]] == ["vocals", "accompaniment"]
        assert result["gansep_provenance"]["command"] == "test"
        assert "| source | SDR | SIR | SAR | ISR | SI-SDR |" in (folder / "results.md").read_text()
    # The mixture baseline of a two-source split is symmetric in SDR.
    mix = {r["source"]: r["SDR"] for r in read_track_scores(log_dir / "mixture")}
    assert mix["vocals"] == pytest.approx(-mix["accompaniment"], abs=1e-6)
    assert result["gansep_provenance"]["global_step"] == 6  # the checkpoint's, not 0
    first = (log_dir / "test" / "toy-test-000.json").read_text()
    run(["test", *common, "--ckpt_path", str(ckpt)], tmp_path)  # a second test: its own folder
    assert (log_dir.parent / "test-2" / "test" / "toy-test-000.json").is_file()
    assert (log_dir / "test" / "toy-test-000.json").read_text() == first


def test_an_impossible_option_is_one_line(tmp_path):
    out = run(["fit", "--config", "configs/demo-gan.yaml", "--model.init_args.discriminator_steps",
               "0", "--data.collection.init_args.root", str(tmp_path)], ROOT, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "gansep fit: discriminator_steps must be >= 1 and warmup_steps >= 0, got 0 and 128"]


def test_bad_config_key_is_named(cli, tmp_path):
    out = cli(["fit", "--config", "configs/demo.yaml", "--model.init_args.generator.init_args"
               ".levls", "3"], ROOT, check=False)
    assert out.returncode != 0 and "levls" in out.stderr


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_run_config_builds_module_and_optimisers(config, toy_root, tmp_path, monkeypatch):
    """Each ready-made run config of configs/ instantiates through the CLI (on the toy data)
    into a module whose optimisers build: what `gansep fit --config` does before step one."""
    from gansep.cli.lightning import lightning_cli

    monkeypatch.chdir(tmp_path)
    base = {"demo-semi.yaml": ["--config", str(ROOT / "configs" / "demo-gan.yaml")]}  # overlays
    cli = lightning_cli([*base.get(config, []),
                         "--config", str(ROOT / "configs" / config), "--trainer.logger", "false",
                         "--trainer.accelerator", "cpu", "--trainer.devices", "1",
                         "--data.collection.init_args.root", str(toy_root)], run=False)
    built = cli.model.configure_optimizers()
    optimizers = (built[0] if isinstance(built, tuple) else
                  [built["optimizer"] if isinstance(built, dict) else built])
    expected = 2 if cli.model.objective.adversarial is not None else 1
    assert len(optimizers) == expected
    assert all(isinstance(o, torch.optim.Optimizer) for o in optimizers)


def test_reconstruction_preset_over_a_gan_config_drops_the_adversarial_term(toy_root, tmp_path,
                                                                            monkeypatch):
    """The objective sweeps pass `--model.init_args.objective configs/objectives/l1.yaml` over
    configs/demo-gan.yaml: the l1 baseline must then have no discriminator (jsonargparse merges
    init_args of the same class, so the preset says adversarial: null)."""
    from gansep.cli.lightning import lightning_cli

    monkeypatch.chdir(tmp_path)
    cli = lightning_cli(["--config", str(ROOT / "configs" / "demo-gan.yaml"),
                         "--model.init_args.objective", str(ROOT / "configs/objectives/l1.yaml"),
                         "--trainer.logger", "false",
                         "--data.collection.init_args.root", str(toy_root)], run=False)
    assert cli.model.objective.adversarial is None


def test_help_lists_every_command(cli):
    from gansep.cli.commands import LIGHTNING, TOOLS

    out = cli(["--help"], ROOT)
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ")}
    assert listed == set(TOOLS) | set(LIGHTNING)
    assert cli([], ROOT, check=False).returncode == 2


def tour_lines() -> list[list[str]]:
    """The README tour's commands, as written (``.venv/bin/gansep`` and comments dropped)."""
    import shlex

    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour of the commands", 1)[1].split("```sh", 1)[1].split("```")[0]
    return [shlex.split(line.split("#", 1)[0])[1:] for line in block.splitlines()
            if line.startswith(".venv/bin/gansep")]


def test_the_readme_tour_keeps_every_runs_logs(cli, tmp_path):
    """The tour's fit, test, evaluate, score, export and separate lines, as written (the fit
    made small), in a fresh folder after the demo's data: the fit's metrics stay whole, the
    test logs beside them, a second fit into the run is refused and changes nothing."""
    import csv
    import shutil

    from gansep.data.toy import make_toy_dataset

    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    make_toy_dataset(tmp_path / "data" / "toy", seed=0, duration=4.0,
                     tracks={"train": 2, "valid": 1, "test": 1})
    lines = {line[0]: line for line in tour_lines() if line[0] in (
        "fit", "test", "evaluate", "score", "export", "separate")}
    assert lines["fit"][:3] == ["fit", "--config", "configs/demo-gan.yaml"]
    small = ["--trainer.max_epochs", "2", "--data.excerpts_per_epoch", "4",
             "--data.batch_size", "2", "--trainer.log_every_n_steps", "1",
             "--trainer.enable_progress_bar", "false"]
    cli(lines["fit"] + small, tmp_path)
    run = tmp_path / "runs" / "demo" / "gan"

    def rows(path):
        with open(path, newline="") as file:
            return list(csv.DictReader(file))

    fitted = (run / "metrics.csv").read_text()
    steps = [int(row["step"]) for row in rows(run / "metrics.csv")]
    assert steps == sorted(set(steps)) and len(steps) >= 4
    assert any(row.get("val/sdr/vocals") for row in rows(run / "metrics.csv"))
    assert list(run.glob("events.out.tfevents*"))
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    best = list((run / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1  # chosen by validation vocals SDR
    for name in ("test", "evaluate", "score", "export", "separate"):
        cli(lines[name] + (["--trainer.enable_progress_bar", "false"] if name == "test"
                           else []), tmp_path)
    assert (run / "metrics.csv").read_text() == fitted  # the test never wrote into the fit
    result = json.loads(next((run / "test" / "test").glob("*.json")).read_text())
    assert result["gansep_provenance"]["global_step"] == checkpoint["global_step"]
    assert (run / "test" / "results.md").is_file()
    assert list((tmp_path / "separated" / "mixture").glob("*.wav"))
    # Training again into the finished run is refused, naming it; nothing changes.
    again = cli(lines["fit"] + small, tmp_path, check=False)
    assert again.returncode == 2 and "holds an earlier run" in again.stderr
    assert (run / "metrics.csv").read_text() == fitted
    # A second test logs beside the first.
    cli(lines["test"] + ["--trainer.enable_progress_bar", "false"], tmp_path)
    assert (run / "test-2" / "results.md").is_file() and (run / "test" / "results.md").is_file()
