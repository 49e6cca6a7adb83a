"""The lyrics head: its block and frame rate, frames placed in time, gradients to the shared
layers, and separation unchanged."""

from __future__ import annotations

import pytest
import torch

from gansep.models.lyrics import LyricsWaveUNet
from gansep.models.waveunet import WaveUNet


def tiny(**overrides) -> LyricsWaveUNet:
    args = dict(channels=1, sample_rate=8000, levels=7, extra_filters=4, down_kernel=5,
                up_kernel=3, output_length=8000, lyrics_rate=23.0, lyrics_hidden=8)
    args.update(overrides)
    return LyricsWaveUNet(**args)


@pytest.mark.parametrize("rate,levels,target,block,frame_rate", [
    (22050, 12, 23.0, 1, 22050 / 1024),   # M4: block 1, 21.53 Hz
    (22050, 12, 40.0, 2, 22050 / 512),
    (8000, 7, 23.0, 0, 8000 / 64),        # shallow: the deepest block is the nearest
    (8000, 9, 23.0, 0, 8000 / 256),
])
def test_head_branches_off_the_block_nearest_the_rate(rate, levels, target, block,
                                                      frame_rate):
    model = LyricsWaveUNet(sample_rate=rate, levels=levels, extra_filters=2, down_kernel=5,
                           up_kernel=3, output_length=rate, lyrics_rate=target)
    assert model.lyrics_block == block
    assert model.frame_rate == pytest.approx(frame_rate)
    times = model.frame_times()
    assert times[1] - times[0] == pytest.approx(1 / frame_rate)


@pytest.mark.parametrize("context", [True, False])
def test_frames_sit_where_their_time_says(context):
    """An impulse at output time t moves the tapped features most around the frame whose
    time is t (within one frame)."""
    torch.manual_seed(0)
    model = tiny(levels=5, context=context, output_length=4096).eval()
    length = model.geometry.input_length
    times = model.frame_times(length)
    base = torch.zeros(1, 1, length)
    with torch.no_grad():
        _, reference = model.run(base, tap=model.lyrics_block)
        for position in (0.2, 0.5, 0.8):
            sample = model.geometry.context_left + int(position * model.geometry.output_length)
            impulse = base.clone()
            impulse[..., sample] = 1.0
            _, features = model.run(impulse, tap=model.lyrics_block)
            change = (features - reference).abs().sum(dim=1)[0]
            centre = float((change * torch.arange(len(change))).sum() / change.sum())
            t = (sample - model.geometry.context_left) / model.sample_rate
            expected = float((t - times[0]) / (times[1] - times[0]))
            assert abs(centre - expected) <= 1.0


def test_separation_is_unchanged_and_the_head_trains_shared_layers():
    torch.manual_seed(0)
    model = tiny()
    torch.manual_seed(0)
    plain = WaveUNet(channels=1, sample_rate=8000, levels=7, extra_filters=4, down_kernel=5,
                     up_kernel=3, output_length=8000)
    mixture = torch.randn(2, 1, model.geometry.input_length)
    estimates, log_probs = model.separate_with_frames(mixture)
    assert torch.equal(estimates, plain(mixture))  # same weights, same separation
    assert torch.equal(model(mixture), estimates)
    assert log_probs.shape == (2, len(model.frame_times()), len(model.vocabulary))
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, log_probs.shape[1]))
    log_probs[..., 0].sum().backward()
    assert model.down[0].weight.grad.abs().sum() > 0  # through the shared encoder
    assert model.output.weight.grad is None  # the separation output is not on the path


def test_config_rebuilds_the_model():
    model = tiny(vocabulary="french")
    again = LyricsWaveUNet(**model.config)
    assert again.config == model.config and len(again.vocabulary) == 45
