"""CUDA-graph replay and channels-last layout of the adversarial step (the SpeedUps callback's
GPU throughput options; values must not change)."""

import copy
import logging

import pytorch_lightning as pl
import pytest
import torch

from gansep.errors import ConfigError
from gansep.models.discriminators import Combined, MultiPeriod, MultiResolutionSpectral, MultiScale
from gansep.training.graphs import _FlatJudgements
from gansep.training.layout import is_channels_last, to_channels_last
from gansep.training.speedups import SpeedUps
from tests.training.test_gan import data, gan_module, trainer


def fit(toy_root, tmp_path, steps=3, **speedups):
    """A few steps on the CPU (exact float32 arithmetic; no TF32 as cuDNN's default), with
    the SpeedUps callback given ``speedups``."""
    pl.seed_everything(0)
    module = gan_module(warmup_steps=1)
    trainer(tmp_path, max_steps=steps, enable_checkpointing=False, accelerator="cpu",
            callbacks=[SpeedUps(**speedups)]).fit(module, data(toy_root))
    return module


def test_channels_last_trains_the_same_values(toy_root, tmp_path):
    eager = fit(toy_root, tmp_path / "a", steps=4)
    laid_out = fit(toy_root, tmp_path / "b", steps=4, channels_last="all")
    # Every trained convolution's stored weights (weight norm's direction) are channels-last
    # (the EMA copy only averages them).
    convs = [m for name, m in laid_out.named_modules() if not name.startswith("ema.")
             and isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))]
    assert convs and all(is_channels_last(m.parametrizations.weight.original1)
                         if hasattr(m, "parametrizations") else is_channels_last(m.weight)
                         for m in convs)
    a, b = eager.state_dict(), laid_out.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5, msg=key)


def test_channels_last_features_equal_contiguous_ones():
    torch.manual_seed(0)
    for family in (MultiScale(scales=2, channels=4, max_channels=16, strides=[2, 2]),
                   MultiPeriod(periods=[2, 3], channels=[4, 8]),
                   MultiResolutionSpectral(resolutions=[[128, 32, 128]], channels=4)):
        contiguous = family.bind(2, 2)
        laid_out = copy.deepcopy(contiguous)
        assert to_channels_last(laid_out) > 0
        x = torch.randn(2, 2, 2, 1000, requires_grad=True)
        expected, got = contiguous(x), laid_out(x)
        for e, g in zip(expected, got):
            for fe, fg in zip(e.features, g.features):
                torch.testing.assert_close(fg, fe, rtol=1e-5, atol=1e-5)
        # gradients to the input (the generator's update) agree too
        grad_e, = torch.autograd.grad(sum(j.logits.square().mean() for j in expected), x)
        grad_g, = torch.autograd.grad(sum(j.logits.square().mean() for j in got), x)
        torch.testing.assert_close(grad_g, grad_e, rtol=1e-4, atol=1e-6)


def test_flat_judgements_rebuild_the_discriminators_verdicts():
    torch.manual_seed(0)
    discriminator = Combined([MultiPeriod(periods=[2, 3], channels=[4, 8]),
                              MultiResolutionSpectral(resolutions=[[128, 32, 128]], channels=4,
                                                      conditional=True)],
                             weights=[1.0, 0.5]).bind(2, 2)
    sources, mixture = torch.randn(3, 2, 2, 700), torch.randn(3, 2, 700)
    flat = _FlatJudgements(discriminator)
    rebuilt = flat.rebuild(flat(sources, mixture))
    direct = discriminator(sources, mixture)
    assert [(j.name, j.weight, len(j.features)) for j in rebuilt] == \
        [(j.name, j.weight, len(j.features)) for j in direct]
    for r, d in zip(rebuilt, direct):
        for fr, fd in zip(r.features, d.features):
            assert torch.equal(fr, fd)


def test_cuda_graphs_fall_back_to_eager_without_a_gpu(toy_root, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    module = fit(toy_root, tmp_path, steps=2, cuda_graphs="all")
    assert "cuda_graphs=all: CUDA graphs need a CUDA device" in caplog.text
    assert "training eagerly" in caplog.text
    assert module.graphed_discriminator is None and module.graphed_generator is None
    assert module.global_step == 2


def test_graph_options_are_checked():
    with pytest.raises(ConfigError, match="choose compile or cuda_graphs"):
        SpeedUps(cuda_graphs="all", compile="discriminators")
    with pytest.raises(ConfigError, match=r"cuda_graphs must be one of none, discriminators, "
                                          r"all, got 'yes'"):
        SpeedUps(cuda_graphs="yes")
    with pytest.raises(ConfigError, match="channels_last must be one of"):
        SpeedUps(channels_last=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_graphed_steps_equal_eager_steps_on_a_gpu(toy_root, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # same arithmetic in both
    caplog.set_level(logging.INFO)

    def sgd(parameters):  # plain SGD: weight differences are gradient differences
        return torch.optim.SGD(parameters, lr=0.01)

    runs = {}
    for graphs in ("none", "all"):
        pl.seed_everything(0)
        module = gan_module(optimizer=sgd, discriminator_optimizer=sgd)
        speedups = SpeedUps(cuda_graphs=graphs, channels_last="all" if graphs == "all" else "none")
        initial = {k: v.clone() for k, v in module.state_dict().items()}
        pl.seed_everything(0)
        pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir=tmp_path, num_sanity_val_steps=0, max_steps=5,
                   enable_checkpointing=False, accelerator="gpu", devices=1,
                   deterministic=False, callbacks=[speedups]).fit(  # reflection padding has no deterministic one
            module, data(toy_root))
        runs[graphs] = {k: v.float().cpu() for k, v in module.state_dict().items()}
    # discriminator update (joint pass) and generator update, plus the generator
    assert caplog.text.count("CUDA graphs: captured the discriminators") == 2
    assert caplog.text.count("CUDA graphs: captured the generator") == 1
    assert "failed" not in caplog.text
    assert any(not torch.equal(runs["all"][k], initial[k].float().cpu()) for k in initial
               if k.startswith("objective."))  # the discriminators trained
    for key, value in runs["none"].items():
        torch.testing.assert_close(runs["all"][key], value, rtol=1e-3, atol=1e-5, msg=key)
