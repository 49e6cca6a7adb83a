import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gansep.separate import separate, separate_file_audio
from tests.conftest import tiny_generator


@pytest.mark.parametrize("time", [100, 1000, 2345])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_chunked_equals_one_forward_pass(time, batch_size):
    torch.manual_seed(0)
    model = tiny_generator(upsampling="learned").eval()
    mixture = torch.randn(2, time)
    chunked = separate(model, mixture, batch_size=batch_size, chunk_length=100)
    # One pass over the whole zero-padded track, with a valid input length.
    g = model.geometry
    length = g.input_length + max(0, -(-(time - g.output_length) // 2**model.levels)) * 2**model.levels
    padded = F.pad(mixture, (g.context_left, length - time - g.context_left))
    with torch.no_grad():
        whole = model(padded[None])[0, ..., :time]
    assert chunked.shape == (2, 2, time)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def test_chunk_steps_are_multiples_of_the_decimation():
    model = tiny_generator()
    plan = model.chunking(1000)
    assert plan.step % 2**model.levels == 0 and plan.step <= model.geometry_for(1000).output_length
    assert plan.fade == 0


def test_same_padding_model_shapes():
    model = tiny_generator(context=False).eval()
    assert separate(model, torch.randn(2, 777)).shape == (2, 2, 777)


def test_file_audio_any_rate_and_mono():
    model = tiny_generator().eval()
    # Band-limited content survives the round trip through the model's 22.05 kHz.
    t = np.arange(44100 // 4) / 44100
    mono = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t))[None]
    mono = mono.astype(np.float32)
    out = separate_file_audio(model, mono, 44100)
    assert out.shape == (2, 1, 44100 // 4) and out.dtype == np.float32
    # Difference output: the sources add back up to the (resampled round trip of the) input.
    assert np.abs(out.sum(0) - mono)[:, 200:-200].max() < 1e-3


def test_bad_mixture_shape():
    with pytest.raises(ValueError, match=r"\(channels, time\)"):
        separate(tiny_generator(), torch.randn(1, 2, 100))


@pytest.mark.parametrize("rate", [22050, 44100, 16000])
def test_streamed_segments_equal_the_whole_file(rate):
    from gansep.separate import separate_stream

    torch.manual_seed(0)
    model = tiny_generator().eval()
    t = np.arange(int(1.3 * rate)) / rate
    audio = np.stack([np.sin(2 * np.pi * 330 * t), np.sin(2 * np.pi * 1200 * t + 1)]) * 0.3
    audio = audio.astype(np.float32)
    whole = separate_file_audio(model, audio, rate)
    pieces = []
    separate_stream(model, lambda a, b: audio[:, a:b], audio.shape[-1], rate, pieces.append,
                    segment_seconds=0.2)
    streamed = np.concatenate(pieces, axis=-1)
    assert len(pieces) > 3 and streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
