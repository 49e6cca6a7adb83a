from pathlib import Path

import pytorch_lightning as pl
import pytest
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.errors import ConfigError
from gansep.losses import GAN, L1, Objective
from gansep.models.discriminators import Combined, MultiPeriod, MultiResolutionSpectral
from gansep.training import GANSeparator, Separator, SpeedUps
from tests.conftest import tiny_generator


def gan_module(**kwargs) -> GANSeparator:
    discriminator = Combined([MultiPeriod(periods=[2, 3], channels=[4, 8]),
                              MultiResolutionSpectral(resolutions=[[128, 32, 128]], channels=4,
                                                      conditional=True)])
    objective = Objective([L1()], GAN(discriminator, weight=0.1, feature_matching=0.5))
    args = dict(ema_decay=0.9, warmup_steps=2, discriminator_steps=2, gradient_clip=10.0,
                discriminator_gradient_clip=10.0,
                lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5),
                discriminator_lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, 0.5))
    args.update(kwargs)
    return GANSeparator(tiny_generator(), objective, **args)


def data(root, steps_per_epoch=3) -> SeparationData:
    return SeparationData(StemsFolder(root), batch_size=2, excerpts_per_epoch=2 * steps_per_epoch,
                          valid_excerpts_per_track=2)


def trainer(tmp_path, **kwargs) -> pl.Trainer:
    return pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, deterministic=True, num_sanity_val_steps=0,
                      **kwargs)


def test_separator_refuses_adversarial_objective():
    objective = Objective([L1()], GAN(MultiPeriod(periods=[2], channels=[4])))
    with pytest.raises(ValueError, match="use class_path gansep.training.GANSeparator"):
        Separator(tiny_generator(), objective)


def test_warmup_then_adversarial_steps(toy_root, tmp_path):
    pl.seed_everything(0)
    module = gan_module(warmup_steps=3)
    before = {k: v.clone() for k, v in module.objective.adversarial.state_dict().items()}
    trainer(tmp_path, max_steps=3, enable_checkpointing=False).fit(module, data(toy_root, 3))
    # global_step counts generator steps only; the discriminator did not move in warm-up.
    assert module.global_step == 3
    after = module.objective.adversarial.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    trainer(tmp_path, max_steps=5, enable_checkpointing=False).fit(module, data(toy_root, 3))
    moved = module.objective.adversarial.state_dict()
    assert any(not torch.equal(before[k], moved[k]) for k in before)
    # The EMA copy differs from the raw weights once both have moved.
    ema, raw = module.ema.module.state_dict(), module.generator.state_dict()
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)


def test_resume_equals_uninterrupted(toy_root, tmp_path):
    """N steps, checkpoint, M more == N + M uninterrupted: weights of both networks, both
    optimisers, schedulers, EMA, step counter and the warm-up's switch-over."""
    pl.seed_everything(0)
    straight = gan_module(warmup_steps=4)
    trainer(tmp_path / "a", max_epochs=3, enable_checkpointing=False).fit(straight,
                                                                           data(toy_root))
    pl.seed_everything(0)
    first = gan_module(warmup_steps=4)
    t = trainer(tmp_path / "b", max_epochs=1, enable_checkpointing=False)
    t.fit(first, data(toy_root))
    t.save_checkpoint(tmp_path / "b.ckpt")
    pl.seed_everything(123)  # a different seed must not matter: state comes from the checkpoint
    resumed = gan_module(warmup_steps=4)
    t2 = trainer(tmp_path / "c", max_epochs=3, enable_checkpointing=False)
    t2.fit(resumed, data(toy_root), ckpt_path=tmp_path / "b.ckpt")
    assert resumed.global_step == straight.global_step == 9
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    for opt_a, opt_b in zip(straight.trainer.optimizers, t2.optimizers):
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"]
        for sa, sb in zip(opt_a.state.values(), opt_b.state.values()):
            torch.testing.assert_close(sb["exp_avg"], sa["exp_avg"], rtol=0, atol=1e-6)


def test_reconstruction_only_objective_runs_in_gan_module(toy_root, tmp_path):
    module = GANSeparator(tiny_generator(), Objective([L1()]))
    trainer(tmp_path, max_steps=2, enable_checkpointing=False).fit(module, data(toy_root))
    assert module.global_step == 2 and len(module.trainer.optimizers) == 1


def test_bf16_mixed_precision_gan_steps_are_finite(toy_root, tmp_path):
    """Both networks train under bf16 autocast without a single step skipped for a non-finite
    loss or gradient (on CPU Lightning turns "16-mixed" into this; fp16 needs CUDA)."""
    pl.seed_everything(0)
    module = gan_module(warmup_steps=1, discriminator_steps=1)
    generator = {k: v.clone() for k, v in module.generator.state_dict().items()}
    critic = {k: v.clone() for k, v in module.objective.adversarial.state_dict().items()}
    t = trainer(tmp_path, max_steps=4, precision="bf16-mixed", enable_checkpointing=False,
                limit_val_batches=0)
    t.fit(module, data(toy_root, 4))
    assert module.global_step == 4 and module.guard.skipped == 0
    losses = {k: v for k, v in t.callback_metrics.items() if "loss" in k}
    assert losses and all(torch.isfinite(v) for v in losses.values()), losses
    assert any(not torch.equal(generator[k], v) for k, v in module.generator.state_dict().items())
    assert any(not torch.equal(critic[k], v)
               for k, v in module.objective.adversarial.state_dict().items())


@pytest.mark.parametrize("module, objective, expected", [
    ("gansep.training.Separator", "l1.yaml", [(torch.optim.Adam, (0.9, 0.999))]),
    ("gansep.training.GANSeparator", "demo-l1+mpd.yaml",
     [(torch.optim.AdamW, (0.8, 0.99)), (torch.optim.AdamW, (0.8, 0.99))]),
])
def test_default_optimisers_from_a_config_without_optimizer(toy_root, tmp_path, module,
                                                            objective, expected):
    """A run config that names no optimiser gets the documented defaults (jsonargparse used to
    hand the modules a function default as its dotted name, a string)."""
    from gansep.cli.lightning import lightning_cli

    configs = Path(__file__).resolve().parents[2] / "configs"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"trainer: {{logger: false, default_root_dir: {tmp_path}}}\n"
        f"model:\n  class_path: {module}\n  init_args:\n"
        f"    generator: {configs / 'models/demo.yaml'}\n"
        f"    objective: {configs / 'objectives' / objective}\n"
        f"data:\n  collection: {{class_path: gansep.data.StemsFolder, "
        f"init_args: {{root: {toy_root}}}}}\n")
    cli = lightning_cli(["--config", str(config)], run=False)
    built = cli.model.configure_optimizers()
    optimizers = built[0] if isinstance(built, tuple) else [built]
    assert [(type(o), o.defaults["betas"]) for o in optimizers] == expected
    assert all(o.defaults["lr"] == 1e-4 for o in optimizers)


def _compiled_run(toy_root, tmp_path, caplog):
    import logging

    pl.seed_everything(0)
    objective = Objective([L1()], GAN(MultiPeriod(periods=[2], channels=[4]), weight=0.1,
                                      crop_length=128))
    module = GANSeparator(tiny_generator(), objective)
    caplog.set_level(logging.INFO)
    trainer(tmp_path, max_steps=3, callbacks=[SpeedUps(compile="discriminators")]).fit(
        module, data(toy_root))
    return module


@pytest.mark.slow
def test_compiled_discriminators_train(toy_root, tmp_path, caplog):
    from gansep.training.compiled import unavailable

    reason = unavailable(torch.device("cpu"))
    if reason is not None:
        pytest.skip(reason)
    module = _compiled_run(toy_root, tmp_path, caplog)
    assert "1 network(s) compiled" in caplog.text and "training eagerly" not in caplog.text
    net = module.adversarial.discriminator.nets[0][0]
    assert net._compiled_call_impl is not None  # still compiled: no fallback happened
    assert module.global_step == 3 and module.guard.skipped == 0
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_compile_failure_falls_back_to_eager(toy_root, tmp_path, caplog, monkeypatch):
    def broken_backend(graph, inputs):
        raise RuntimeError("CantSplit.__init__() missing 2 required positional arguments")

    monkeypatch.setattr("gansep.training.compiled.BACKEND", broken_backend)
    monkeypatch.setattr("gansep.training.compiled.unavailable", lambda device: None)
    module = _compiled_run(toy_root, tmp_path, caplog)
    assert "compile=discriminators failed" in caplog.text and "training eagerly" in caplog.text
    assert module.adversarial.discriminator.nets[0][0]._compiled_call_impl is None
    assert module.global_step == 3 and module.guard.skipped == 0


def test_unknown_compile_mode_is_refused():
    from gansep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"compile_mode must be one of default, "
                                          r"reduce-overhead.*got 'fast'"):
        SpeedUps(compile="all", compile_mode="fast")
    with pytest.raises(ConfigError, match=r"compile must be one of none, generator"):
        SpeedUps(compile="everything")


def test_crop_shorter_than_a_spectral_window_is_refused():
    from gansep.errors import ConfigError

    spectral = MultiResolutionSpectral(resolutions=[[1024, 256, 1024]], channels=4)
    with pytest.raises(ConfigError, match=r"judge 200 samples .* needs at least 513"):
        GANSeparator(tiny_generator(output_length=2048),
                     Objective([L1()], GAN(spectral, crop_length=200)))
    GANSeparator(tiny_generator(output_length=2048),
                 Objective([L1()], GAN(spectral, crop_length=600)))  # long enough


def test_init_from_a_trained_separator(toy_root, tmp_path):
    from gansep.errors import ConfigError
    from gansep.export import write_separator

    pl.seed_everything(0)
    source = Separator(tiny_generator())
    fit = trainer(tmp_path, max_steps=4)
    fit.fit(source, data(toy_root))
    checkpoint = tmp_path / "l1.ckpt"
    fit.save_checkpoint(checkpoint)
    write_separator(source.generator, tmp_path / "export")
    expected = trainer(tmp_path).validate(source, data(toy_root), verbose=False)[0]
    for origin in (checkpoint, tmp_path / "export"):
        module = gan_module(init_from=str(origin))
        # Its first validation equals the source's; the EMA copy starts from the same weights.
        assert trainer(tmp_path).validate(module, data(toy_root), verbose=False)[0] == expected
        for a, b in zip(module.ema.module.parameters(), source.generator.parameters()):
            assert torch.equal(a, b)
        assert module.global_step == 0  # optimisers and step start fresh
    with pytest.raises(ConfigError, match=r"extra_filters 4 there, 8 here"):
        GANSeparator(tiny_generator(extra_filters=8), init_from=str(checkpoint))


@pytest.mark.parametrize("factor", [0.0, 1.0])
def test_reconstruction_after_warmup_scales_the_reconstruction_terms(toy_root, tmp_path,
                                                                     factor):
    """With ``reconstruction_after_warmup: 0`` the generator's loss after the warm-up is the
    adversarial and feature-matching loss alone (L1 still logged); with 1 it includes L1."""
    pl.seed_everything(0)
    discriminator = MultiPeriod(periods=[2], channels=[4, 8])
    term = GAN(discriminator, weight=0.3, feature_matching=0.5,
               reconstruction_after_warmup=factor)
    module = GANSeparator(tiny_generator(), Objective([L1()], term), warmup_steps=1)
    trainer_ = trainer(tmp_path, max_steps=2, enable_checkpointing=False)
    trainer_.fit(module, data(toy_root, 2))
    logged = {k: float(v) for k, v in trainer_.callback_metrics.items()}
    adversarial = 0.3 * logged["train/adv_mpd"] + 0.5 * logged["train/fm"]
    assert logged["train/l1"] > 0
    assert logged["train/loss"] == pytest.approx(adversarial + factor * logged["train/l1"],
                                                 rel=1e-5)


def test_a_negative_reconstruction_factor_is_refused():
    with pytest.raises(ConfigError, match="reconstruction_after_warmup must be >= 0"):
        GAN(MultiPeriod(periods=[2], channels=[4]), reconstruction_after_warmup=-1.0)


def _checkpointed_gan_run(toy_root, tmp_path, checkpointing):
    pl.seed_everything(0)
    module = gan_module(warmup_steps=0, discriminator_steps=1, ema_decay=None)
    module.objective.adversarial.checkpointing = checkpointing
    module.objective.adversarial.bind(len(module.generator.sources), module.generator.channels)
    trainer(tmp_path, max_steps=2, enable_checkpointing=False, limit_val_batches=0).fit(
        module, data(toy_root, 2))
    return module


def test_checkpointed_discriminators_train_as_the_plain_ones(toy_root, tmp_path):
    # The generator's update recomputes the frozen discriminators' activations in its
    # backward pass: they must still be frozen there, or the recomputed graph differs
    # (torch's CheckpointError), and the weights must come out as without checkpointing.
    from gansep.models.checkpointing import is_checkpointed

    plain = _checkpointed_gan_run(toy_root, tmp_path, False)
    checked = _checkpointed_gan_run(toy_root, tmp_path, True)
    assert is_checkpointed(checked.objective.adversarial)
    assert not is_checkpointed(plain.objective.adversarial)
    for (name, a), b in zip(plain.state_dict().items(), checked.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7), name
