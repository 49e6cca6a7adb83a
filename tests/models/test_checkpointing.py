"""Activation checkpointing: the same gradients as the unchecked network, with the blocks'
forward passes run again in the backward pass; weights and exports unchanged."""

from __future__ import annotations

import copy

import pytest
import torch

from gansep.losses import GAN, LSGAN
from gansep.models import WaveUNet, build_generator
from gansep.models.checkpointing import is_checkpointed
from gansep.models.discriminators import Combined, MultiPeriod, MultiResolutionSpectral
from tests.models.test_generators import demo


def gradients(module, inputs, loss):
    """The parameters' gradients of one pass, from one random state (a model with dropout
    draws the same masks; the checkpoint restores that state when it recomputes)."""
    module.zero_grad()
    torch.manual_seed(123)
    loss(module, inputs).backward()
    return {name: p.grad.detach().clone() for name, p in module.named_parameters()
            if p.grad is not None}


def assert_same_gradients(plain, checked, inputs, loss):
    """Each parameter's gradient equal to 1e-5 of its own largest value."""
    expected, got = gradients(plain, inputs, loss), gradients(checked, inputs, loss)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        scale = expected[name].abs().max().clamp_min(1e-30)
        assert (got[name] - expected[name]).abs().max() <= 1e-5 * scale, name


def wave_unet(checkpointing):
    torch.manual_seed(0)
    return WaveUNet(sources=["vocals", "accompaniment"], channels=2, sample_rate=8000, levels=4,
                    extra_filters=4, down_kernel=5, up_kernel=3, output_length=256,
                    checkpointing=checkpointing)


def separation_loss(generator, mixture):
    return generator(mixture).square().mean()


def test_wave_unet_checkpointing_gives_the_same_gradients_and_recomputes_its_blocks():
    plain, checked = wave_unet(False), wave_unet(True)
    checked.load_state_dict(plain.state_dict())
    assert checked.config == plain.config  # not part of what the network is
    mixture = torch.randn(2, 2, plain.geometry.input_length)
    assert_same_gradients(plain, checked, mixture, separation_loss)
    calls = []
    checked.down[0].register_forward_hook(lambda *_: calls.append(1))
    separation_loss(checked, mixture).backward()
    assert len(calls) == 2  # once forward, once again in the backward pass
    calls.clear()
    with torch.no_grad():
        checked(mixture)
    assert len(calls) == 1  # inference: no recomputation


@pytest.mark.parametrize("name", ["demo-htdemucs", "demo-roformer", "demo-mel-roformer"])
def test_adapter_checkpointing_gives_the_same_gradients(name):
    plain = demo(name).train()
    checked = demo(name, checkpointing=True).train()
    checked.load_state_dict(plain.state_dict())
    assert is_checkpointed(checked) and not is_checkpointed(plain)
    assert checked.state_dict().keys() == plain.state_dict().keys()
    assert "checkpointing" not in checked.config
    torch.manual_seed(1)
    mixture = torch.randn(1, 2, 4096)
    assert_same_gradients(plain, checked, mixture, separation_loss)
    # The EMA copy (a deep copy) recomputes its own blocks with its own weights.
    twin = copy.deepcopy(checked)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(0.5)
    assert not torch.allclose(twin(mixture), checked(mixture))


def test_discriminator_checkpointing_gives_the_same_gradients():
    def term(checkpointing):
        torch.manual_seed(0)
        gan = GAN(Combined([MultiPeriod(periods=[2, 3], channels=[4, 8], conditional=True),
                            MultiResolutionSpectral(resolutions=[[256, 64, 256]], channels=4)]),
                  LSGAN(), feature_matching=2.0, checkpointing=checkpointing)
        return gan.bind(2, 2)
    plain, checked = term(False), term(True)
    checked.load_state_dict(plain.state_dict())
    assert is_checkpointed(checked) and not is_checkpointed(plain)
    torch.manual_seed(1)
    reference, estimate = torch.randn(2, 2, 2, 2048), torch.randn(2, 2, 2, 2048)
    mixture = torch.randn(2, 2, 2048)

    def discriminator_loss(gan, _):
        return gan.discriminator_loss(reference, estimate, mixture)[0]
    assert_same_gradients(plain, checked, None, discriminator_loss)


def test_a_checkpointed_generator_exports_as_a_plain_one():
    checked = wave_unet(True)
    rebuilt = build_generator("gansep.models.WaveUNet", checked.config)
    assert not rebuilt.checkpointing  # exports and evaluation rebuild the network only
