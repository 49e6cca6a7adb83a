"""Faults injected for real: NaN losses, kills during training and during checkpoint writes,
bad configurations."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import pytorch_lightning as pl
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.losses import GAN, L1, Objective
from gansep.models.discriminators import MultiPeriod
from gansep.training import GANSeparator
from gansep.training.robust import AtomicCheckpointIO, DivergenceError, check_training_memory
from tests.cli.test_cli import ROOT, run
from tests.conftest import GANSEP, tiny_generator
from tests.helpers import NaNAfter


def fit(module, root, steps):
    data = SeparationData(StemsFolder(root), batch_size=2, excerpts_per_epoch=8)
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, data)
    return trainer


def gan(reconstruction, **kwargs):
    objective = Objective(reconstruction, GAN(MultiPeriod(periods=[2, 3], channels=[4, 8])))
    return GANSeparator(tiny_generator(), objective, **kwargs)


def test_a_nan_step_is_skipped_and_training_goes_on(toy_root):
    module = gan([L1(), NaNAfter(start=2, stop=3)], warmup_steps=0)
    fit(module, toy_root, 5)
    assert module.global_step == 5 and module.guard.skipped == 1
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_persistent_nan_stops_naming_term_and_step(toy_root):
    module = gan([L1(), NaNAfter(start=2)], max_bad_steps=2)
    with pytest.raises(DivergenceError, match=r"3 consecutive .* at step 2: generator nan_after"):
        fit(module, toy_root, 10)
    assert module.global_step == 2


def test_nan_discriminator_is_detected(toy_root):
    module = gan([L1()], max_bad_steps=1)
    with torch.no_grad():
        next(module.objective.adversarial.parameters()).fill_(float("nan"))
    with pytest.raises(DivergenceError, match=r"at step 0: generator adv_mpd"):
        fit(module, toy_root, 3)


def test_guard_reads_every_verdict_at_once_and_names_the_first_bad():
    from gansep.training.robust import FiniteGuard

    values = {"l1": torch.tensor(0.5), "count": 3.0, "grad": torch.tensor([1.0, float("inf")]),
              "later": torch.tensor(float("nan"))}
    assert FiniteGuard.first_bad(values) == "grad"
    assert FiniteGuard.first_bad({"l1": torch.tensor(0.5), "n": 1.0}) is None
    assert FiniteGuard.first_bad({}) is None


class NaNGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def test_a_finite_loss_with_nan_gradients_skips_the_update(toy_root):
    module = gan([L1()], max_bad_steps=1)
    forward = module.generator.forward
    module.generator.forward = lambda mixture: NaNGradient.apply(forward(mixture))
    before = [p.detach().clone() for p in module.generator.parameters()]
    with pytest.raises(DivergenceError, match=r"at step 0: generator gradient norm"):
        fit(module, toy_root, 3)
    assert all(torch.equal(a, b) for a, b in zip(before, module.generator.parameters()))


def test_checkpoint_write_killed_midway_leaves_the_old_one(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)

    def dying_save(obj, target, *args, **kwargs):
        with open(target, "wb") as file:
            file.write(b"half a checkpoint")
        raise KeyboardInterrupt  # killed while writing

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def fit_args(root, out, steps=8):
    return ["fit", "--config", str(ROOT / "configs/demo-gan.yaml"),
            "--model.init_args.generator.init_args.levels", "3",
            "--model.init_args.generator.init_args.output_length", "512",
            "--model.init_args.warmup_steps", "3", "--trainer.max_steps", str(steps),
            "--data.collection.init_args.root", str(root), "--data.batch_size", "2",
            "--data.excerpts_per_epoch", "10", "--trainer.enable_progress_bar", "false",
            "--trainer.log_every_n_steps", "1",
            "--trainer.logger.init_args.save_dir", str(out / "runs"),
            "--trainer.callbacks.init_args.dirpath", str(out / "ckpt"),
            "--trainer.callbacks.init_args.every_n_train_steps", "1",
            "--trainer.callbacks.init_args.monitor", "null"]


def start(args, cwd, progress):
    slow = ["--trainer.callbacks+", "tests.helpers.SlowSteps",
            "--trainer.callbacks.progress", str(progress)]
    return subprocess.Popen(GANSEP + args + slow, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for_step(progress, step, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        # One read: the writer truncates before it writes, so a second read may find nothing.
        text = progress.read_text().strip() if progress.exists() else ""
        if text and int(text) >= step:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("training did not reach the step in time")


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly(toy_root, tmp_path):
    process = start(fit_args(toy_root, tmp_path, steps=50), tmp_path, tmp_path / "progress")
    wait_for_step(tmp_path / "progress", 3, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "SIGTERM: saved" in err
    checkpoint = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert 3 <= checkpoint["global_step"] < 50


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(toy_root, tmp_path):
    straight = tmp_path / "straight"
    run(fit_args(toy_root, straight), tmp_path)
    expected = torch.load(straight / "ckpt" / "last.ckpt", weights_only=True)
    # The interrupted run reads through the decoded cache (the straight one directly): resume
    # must be exact through it, and its excerpts identical to the direct reader's.
    killed = tmp_path / "killed"
    cached = ["--data.cache_dir", str(tmp_path / "cache")]
    process = start(fit_args(toy_root, killed) + cached, tmp_path, tmp_path / "progress")
    wait_for_step(tmp_path / "progress", 4, process)  # mid-epoch (5 steps per epoch)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    interrupted_at = torch.load(killed / "ckpt" / "last.ckpt", weights_only=True)["global_step"]
    assert 3 <= interrupted_at < 8  # mid-epoch: 5 steps per epoch
    run(fit_args(toy_root, killed) + cached + ["--ckpt_path", "last"], tmp_path)
    assert list((tmp_path / "cache").glob("*/manifest.json"))
    resumed = torch.load(killed / "ckpt" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == expected["global_step"] == 8
    for key, value in expected["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=1e-6,
                                   msg=key)
    for a, b in zip(expected["optimizer_states"], resumed["optimizer_states"]):
        for state_a, state_b in zip(a["state"].values(), b["state"].values()):
            torch.testing.assert_close(state_b["exp_avg_sq"], state_a["exp_avg_sq"], rtol=0,
                                       atol=1e-9)
    # The resumed run continued its own metrics.csv: every step logged before the kill is
    # still there, the steps trained twice are there once, and the values equal the
    # uninterrupted run's.
    import csv

    def logged(folder):
        with open(folder / "runs" / "demo" / "gan" / "metrics.csv", newline="") as file:
            rows = list(csv.DictReader(file))
        steps = [int(row["step"]) for row in rows]
        assert len(steps) == len(set(steps)), steps
        return {(int(row["step"]), key): float(value) for row in rows
                for key, value in row.items() if key != "step" and value != ""}

    straight_logs, killed_logs = logged(straight), logged(killed)
    assert set(killed_logs) == set(straight_logs)
    assert {step for step, _ in killed_logs} >= set(range(8))  # logged at every step
    for key, value in straight_logs.items():
        assert killed_logs[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def cli_in_process(args, capsys, caplog) -> tuple[int, str]:
    """``gansep ARGS`` in this process (no second Lightning import): exit code and everything
    it said (stderr, stdout, log records, an escaping exception)."""
    from gansep.cli.main import main

    said = ""
    try:
        code = main(args)
    except SystemExit as exit:
        code = exit.code
    except Exception as error:  # what a subprocess would print as its last traceback line
        code, said = 1, f"{type(error).__name__}: {error}"
    captured = capsys.readouterr()
    return code, captured.err + captured.out + caplog.text + said


@pytest.mark.parametrize("override, message", [
    (["--model.init_args.generator.init_args.levels", "0"], "levels must be a positive integer"),
    (["--model.init_args.generator.init_args.down_kernel", "4"], "down_kernel must be a positive"
                                                                  " odd integer"),
    (["--model.init_args.generator.init_args.upsampling", "cubic"], "upsampling"),
    (["--data.batch_size", "many"], "batch_size"),
    (["--model.init_args.warmup_stepz", "3"], "warmup_stepz"),
    ([], "no-such-data: dataset root does not exist"),  # the control: a good configuration
])
@pytest.mark.slow
def test_bad_configuration_fails_before_data(tmp_path, monkeypatch, capsys, caplog, override,
                                             message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["gansep"])
    code, said = cli_in_process(["fit", "--config", str(ROOT / "configs/demo-gan.yaml"),
                                 "--data.collection.init_args.root", str(tmp_path / "no-such-data"),
                                 *override], capsys, caplog)
    assert code != 0 and message in said
    if override:  # refused before the data was looked at
        assert "no-such-data: dataset root does not exist" not in said


@pytest.mark.slow
def test_a_step_too_large_is_refused_from_the_meta_device_before_anything_is_built(
        tmp_path, monkeypatch, capsys, caplog):
    from gansep.cli import lightning

    checked = []

    def spy(generator, batch_size, memory=None):
        checked.append(next(generator.parameters()).device.type)
        return check_training_memory(generator, batch_size, memory)

    monkeypatch.setattr(lightning, "check_training_memory", spy)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["gansep"])
    code, said = cli_in_process(["fit", "--config", str(ROOT / "configs/demo-gan.yaml"),
                                 "--data.collection.init_args.root", str(tmp_path / "no-data"),
                                 "--model.init_args.generator.init_args.levels", "20",
                                 "--model.init_args.generator.init_args.extra_filters", "96"],
                                capsys, caplog)
    assert code == 2 and "levels=20" in said and "GiB of activations" in said, said
    assert checked == ["meta"]  # the 20-level network's weights were never allocated
