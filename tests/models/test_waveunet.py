import pytest
import torch

from gansep.models.waveunet import Upsample, WaveUNet, center_crop
from tests.conftest import tiny_generator

PAPER = dict(levels=12, extra_filters=24, down_kernel=15, up_kernel=5, sample_rate=22050)


def test_paper_geometry_with_context():
    # Stoller et al. (2018): valid convolutions take 147443 inputs for 16389 outputs.
    model = WaveUNet(**PAPER, context=True, output_length=16384)
    g = model.geometry
    assert (g.input_length, g.output_length) == (147443, 16389)
    assert g.context_left == g.context_right == (147443 - 16389) // 2
    assert model.output_length_for(147443) == 16389


def test_paper_m1_maps_16384_to_16384():
    model = WaveUNet(**PAPER, channels=1, context=False, difference_output=False,
                     output_length=16384)
    assert model.geometry.input_length == model.geometry.output_length == 16384
    out = model(torch.randn(1, 1, 16384))
    assert out.shape == (1, 2, 1, 16384)


def test_paper_width_and_parameters():
    model = WaveUNet(**PAPER)
    assert [conv.out_channels for conv in model.down] == [24 * i for i in range(1, 13)]
    assert model.bottleneck.out_channels == 24 * 13
    assert [conv.out_channels for conv in model.up] == [24 * i for i in range(12, 0, -1)]
    # Difference output: one stereo source estimated, the other is the remainder.
    assert model.output.out_channels == 2


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sources", [["vocals", "accompaniment"],
                                     ["vocals", "drums", "bass", "other"]])
@pytest.mark.parametrize("context", [True, False])
@pytest.mark.parametrize("upsampling", ["linear", "learned"])
@pytest.mark.parametrize("difference_output", [True, False])
def test_shapes(channels, sources, context, upsampling, difference_output):
    model = tiny_generator(channels=channels, sources=sources, context=context,
                           upsampling=upsampling, difference_output=difference_output,
                           output_length=300)
    g = model.geometry
    assert g.output_length >= 300
    assert g.input_length - g.output_length == g.context_left + g.context_right
    if not context:
        assert g.input_length == g.output_length and g.input_length % 2**model.levels == 0
    out = model(torch.randn(3, channels, g.input_length))
    assert out.shape == (3, len(sources), channels, g.output_length)


@pytest.mark.parametrize("extra", [0, 1, 5])
def test_longer_valid_inputs(extra):
    model = tiny_generator()
    g = model.geometry
    n = g.input_length + extra * 2**model.levels
    assert model(torch.randn(1, 2, n)).shape[-1] == g.output_length + extra * 2**model.levels


def test_invalid_length_is_a_clear_error():
    model = tiny_generator()
    with pytest.raises(ValueError, match="valid lengths are"):
        model(torch.randn(1, 2, model.geometry.input_length + 1))
    with pytest.raises(ValueError, match=r"expects \(batch, 2, time\)"):
        model(torch.randn(1, 1, model.geometry.input_length))
    same = tiny_generator(context=False)
    with pytest.raises(ValueError, match="multiple of"):
        same(torch.randn(1, 2, 100))


@pytest.mark.parametrize("context", [True, False])
def test_difference_output_sums_to_mixture(context):
    model = tiny_generator(sources=["vocals", "drums", "rest"], context=context)
    g = model.geometry
    mixture = torch.randn(2, 2, g.input_length)
    out = model(mixture)
    # The sum of all sources is the mixture at the output's position (context_left).
    expected = mixture[..., g.context_left : g.context_left + g.output_length]
    torch.testing.assert_close(out.sum(dim=1), expected, atol=1e-5, rtol=0)


def test_direct_output_is_tanh_bounded():
    model = tiny_generator(difference_output=False)
    out = model(10 * torch.randn(1, 2, model.geometry.input_length))
    assert out.abs().max() <= 1


def test_learned_upsampling_starts_linear_and_learns():
    torch.manual_seed(0)
    linear = tiny_generator(upsampling="linear")
    learned = tiny_generator(upsampling="learned")
    learned.load_state_dict(linear.state_dict(), strict=False)
    x = torch.randn(1, 2, linear.geometry.input_length)
    torch.testing.assert_close(learned(x), linear(x))
    learned(x)[:, 0].pow(2).mean().backward()
    assert all(up.weight.grad is not None and up.weight.grad.abs().sum() > 0
               for up in learned.upsample)


def test_upsample_interpolates():
    x = torch.tensor([[[0.0, 2.0, 4.0]]])
    valid = Upsample(1, learned=False, valid=True)(x)
    torch.testing.assert_close(valid, torch.tensor([[[0.0, 1.0, 2.0, 3.0, 4.0]]]))
    same = Upsample(1, learned=False, valid=False)(x)
    torch.testing.assert_close(same, torch.tensor([[[0.0, 1.0, 2.0, 3.0, 4.0, 4.0]]]))


def test_center_crop():
    x = torch.arange(10.0)
    assert center_crop(x, 4).tolist() == [3.0, 4.0, 5.0, 6.0]
    assert center_crop(x, 3).tolist() == [3.0, 4.0, 5.0]


def test_gradients_reach_every_layer():
    model = tiny_generator()
    model(torch.randn(2, 2, model.geometry.input_length)).pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("bad, message", [
    (dict(levels=0), "levels must be a positive integer"),
    (dict(down_kernel=4), "down_kernel must be a positive odd integer"),
    (dict(upsampling="cubic"), "upsampling must be 'linear' or 'learned'"),
    (dict(sources=["vocals"]), "difference_output needs at least 2 sources"),
    (dict(sources=["a", "a"]), "distinct"),
])
def test_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_generator(**bad)
