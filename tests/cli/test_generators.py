"""Every generator through the commands: the demo presets drop into the demo run configs, fit
with L1 and with an adversarial objective, resume exactly, export, and separate real MP3 input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch
import yaml

from gansep.data import SeparationData, StemsFolder
from gansep.losses import GAN, L1, Objective
from gansep.models import build_generator
from gansep.models.discriminators import MultiPeriod
from gansep.training import GANSeparator
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ["demo-htdemucs", "demo-roformer", "demo-mel-roformer"]
# A shorter segment than the presets' keeps two steps at a second or two.
SHORT = ["--model.init_args.generator.init_args.segment_length", "4096"]


def common(preset: str, config: str, toy_root: Path, tmp_path: Path) -> list[str]:
    return ["--config", str(ROOT / "configs" / config),
            "--model.init_args.generator", str(ROOT / "configs/models" / f"{preset}.yaml"),
            *SHORT, "--data.collection.init_args.root", str(toy_root),
            "--data.batch_size", "2", "--data.excerpts_per_epoch", "4",
            "--data.valid_excerpts_per_track", "1", "--trainer.max_epochs", "1",
            "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
            "--trainer.callbacks.init_args.dirpath", str(tmp_path / "ckpt")]


@pytest.mark.parametrize("preset", PRESETS)
def test_fit_l1_and_gan_export_and_separate_real_mp3(preset, cli, toy_root, tmp_path):
    for config in ("demo.yaml", "demo-gan.yaml"):
        cli(["fit", *common(preset, config, toy_root, tmp_path / config)], tmp_path)
        ckpt = tmp_path / config / "ckpt" / "last.ckpt"
        checkpoint = torch.load(ckpt, weights_only=True)
        assert checkpoint["global_step"] == 2
        assert checkpoint["gansep"]["generator_class"].startswith("gansep.models.")
    out = tmp_path / "export"
    cli(["export", str(ckpt), "--out", str(out)], tmp_path)
    description = json.loads((out / "separator.json").read_text())
    assert description["generator"]["class_path"] == checkpoint["gansep"]["generator_class"]
    assert sorted(description["files"]) == ["torchscript", "weights"]
    refused = cli(["export", str(ckpt), "--out", str(tmp_path / "onnx"), "--onnx"], tmp_path,
                  check=False)
    assert refused.returncode == 2 and "cannot be exported to ONNX" in refused.stderr
    clip = SHARED_DATA / "musdb18-excerpt" / "The Mountaineering Club - Mallory" / "mix.mp3"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (the team's shared data): separation of real MP3 input "
                    "not checked")
    cli(["separate", "--model", str(out), str(clip), "--out", str(tmp_path / "sep")], tmp_path)
    for source in ("vocals", "accompaniment"):
        info = sf.info(tmp_path / "sep" / "mix" / f"{source}.wav")
        assert (info.frames, info.channels, info.samplerate) == (1323000, 2, 44100)


def gan_module(preset: str) -> GANSeparator:
    spec = yaml.safe_load((ROOT / "configs/models" / f"{preset}.yaml").read_text())
    generator = build_generator(spec["class_path"], {**spec["init_args"], "segment_length": 4096})
    objective = Objective([L1()], GAN(MultiPeriod(periods=[2, 3], channels=[4, 8]), weight=0.1,
                                      feature_matching=0.5))
    return GANSeparator(generator, objective, ema_decay=0.9, warmup_steps=1)


@pytest.mark.parametrize("preset", PRESETS)
def test_resume_equals_uninterrupted(preset, toy_root, tmp_path):
    """Two steps, a checkpoint, two more == four uninterrupted (both networks, both
    optimisers, EMA), for each adapter."""
    def data():
        return SeparationData(StemsFolder(toy_root), batch_size=2, excerpts_per_epoch=4,
                              valid_excerpts_per_track=1)

    def trainer(root, epochs):
        return pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False,
                          enable_model_summary=False, default_root_dir=root,
                          deterministic=True, num_sanity_val_steps=0, limit_val_batches=0,
                          enable_checkpointing=False)

    pl.seed_everything(0)
    straight = gan_module(preset)
    trainer(tmp_path / "a", 2).fit(straight, data())
    pl.seed_everything(0)
    first = gan_module(preset)
    t = trainer(tmp_path / "b", 1)
    t.fit(first, data())
    t.save_checkpoint(tmp_path / "b.ckpt")
    pl.seed_everything(123)
    resumed = gan_module(preset)
    trainer(tmp_path / "c", 2).fit(resumed, data(), ckpt_path=tmp_path / "b.ckpt")
    assert resumed.global_step == straight.global_step == 4
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)


OBJECTIVES = sorted(p.name for p in (ROOT / "configs/objectives").glob("*.yaml")
                    if "lyrics" not in p.name)  # multi-task lyrics is Wave-U-Net's alone


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_every_generator(objective, toy_root, tmp_path, monkeypatch):
    """One adversarial-module step of each objective preset (no warm-up: the discriminator
    and its loss run), on the adapters in turn; the first under bf16 autocast (slow on CPUs
    without bf16 units, so only one)."""
    from gansep.cli.lightning import lightning_cli

    index = OBJECTIVES.index(objective)
    preset = PRESETS[index % len(PRESETS)]
    monkeypatch.chdir(tmp_path)
    cli = lightning_cli([
        "--config", str(ROOT / "configs/demo-gan.yaml"),
        "--model.init_args.generator", str(ROOT / "configs/models" / f"{preset}.yaml"),
        "--model.init_args.objective", str(ROOT / "configs/objectives" / objective),
        "--model.init_args.warmup_steps", "0", "--trainer.logger", "false",
        "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0",
        "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks", "[]", "--trainer.enable_checkpointing", "false",
        "--model.init_args.generator.init_args.segment_length", "8192",
        "--trainer.precision", "bf16-mixed" if index == 0 else "32-true",
        "--data.batch_size", "1", "--data.collection.init_args.root", str(toy_root)],
        run=False)
    generator = {k: v.clone() for k, v in cli.model.generator.state_dict().items()}
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.model.global_step == 1 and cli.model.guard.skipped == 0
    assert any(not torch.equal(generator[k], v)
               for k, v in cli.model.generator.state_dict().items())
    if cli.model.objective.adversarial is not None:
        assert any(k.startswith("train/") and ("disc" in k or "adv" in k or "critic" in k)
                   for k in cli.trainer.callback_metrics), sorted(cli.trainer.callback_metrics)
