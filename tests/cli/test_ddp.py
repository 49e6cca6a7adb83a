"""A 2-process DDP run (gloo on CPU) of the GAN module, through the CLI as a user runs it."""

import json

import pytest

from tests.cli.test_cli import ROOT, run

pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

TINY = ["--model.init_args.generator.init_args.levels", "3",
        "--model.init_args.generator.init_args.output_length", "512",
        "--data.batch_size", "2", "--data.excerpts_per_epoch", "8",
        "--trainer.accelerator", "cpu", "--trainer.devices", "2",
        "--trainer.enable_progress_bar", "false"]


def test_gan_ddp_two_processes(toy_root, tmp_path):
    out = run(["fit", "--config", str(ROOT / "configs/demo-gan.yaml"), *TINY,
               "--data.collection.init_args.root", str(toy_root),
               "--model.init_args.warmup_steps", "1", "--trainer.max_steps", "3",
               "--trainer.strategy", "ddp_find_unused_parameters_true",
               "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
               "--trainer.callbacks.init_args.dirpath", str(tmp_path / "ckpt"),
               "--trainer.callbacks+", "tests.helpers.WeightDigest",
               "--trainer.callbacks.out", str(tmp_path / "digest"),
               "--trainer.callbacks+", "gansep.training.SeparationMetrics",
               "--trainer.callbacks.every_n_epochs", "1"], tmp_path)
    assert "`Trainer.fit` stopped: `max_steps=3` reached." in out.stdout + out.stderr
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()
    ranks = [json.loads((tmp_path / "digest" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys() and any("discriminator" in k for k in ranks[0])
    for name, value in ranks[0].items():
        assert abs(value - ranks[1][name]) <= 1e-6 * max(1.0, abs(value)), name
    # The SDR callback ran under DDP (tracks shared over ranks, gathered) and was logged.
    import csv

    rows = list(csv.DictReader(open(tmp_path / "runs" / "demo" / "gan" / "metrics.csv")))
    assert any(row.get("val/sdr/vocals") for row in rows)
    assert any(row.get("val/si_sdr/accompaniment") for row in rows)


def test_plain_ddp_is_refused_with_a_clear_message(toy_root, tmp_path):
    out = run(["fit", "--config", str(ROOT / "configs/demo-gan.yaml"), *TINY,
               "--data.collection.init_args.root", str(toy_root), "--trainer.max_steps", "1",
               "--trainer.strategy", "ddp",
               "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
               "--trainer.callbacks.init_args.dirpath", str(tmp_path / "ckpt")],
              tmp_path, check=False)
    assert out.returncode != 0
    assert "needs --trainer.strategy ddp_find_unused_parameters_true" in out.stderr
