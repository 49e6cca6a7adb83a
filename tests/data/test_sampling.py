import numpy as np
import pytest
import soundfile as sf
import torch

from gansep.data.audio import DataError, resample
from gansep.data.folder import StemsFolder
from gansep.data.sampling import (Augmentation, ExcerptSampler, ExcerptSpec, TrainingExcerpts,
                                  ValidationExcerpts, read_span)
from gansep.data.tracks import assemble_sources
from tests.conftest import tiny_generator


@pytest.fixture
def spec():
    return ExcerptSpec.of(tiny_generator())


def test_training_excerpt_shapes_and_mixture(toy_root, spec):
    dataset = TrainingExcerpts(StemsFolder(toy_root).tracks("train"), spec, None, seed=0)
    mixture, sources = dataset[7]
    assert mixture.shape == (2, spec.input_length)
    assert sources.shape == (2, 2, spec.output_length)
    window = mixture[:, spec.context_left : spec.context_left + spec.output_length]
    torch.testing.assert_close(sources.sum(0), window)


def test_excerpts_are_reproducible_and_vary(toy_root, spec):
    tracks = StemsFolder(toy_root).tracks("train")
    aug = Augmentation(gain=(0.5, 1.0), channel_swap=True, remix=0.5)
    a = TrainingExcerpts(tracks, spec, aug, seed=0)
    b = TrainingExcerpts(tracks, spec, aug, seed=0)
    torch.testing.assert_close(a[3][0], b[3][0])
    assert not torch.allclose(a[3][0], a[4][0])
    assert not torch.allclose(a[3][0], TrainingExcerpts(tracks, spec, aug, seed=1)[3][0])


def test_augmentation_keeps_mixture_consistent(toy_root, spec):
    tracks = StemsFolder(toy_root).tracks("train")
    plain = TrainingExcerpts(tracks, spec, None, seed=0)
    gained = TrainingExcerpts(tracks, spec, Augmentation(gain=(0.5, 0.5), channel_swap=False),
                              seed=0)
    torch.testing.assert_close(gained[2][1], 0.5 * plain[2][1])
    mixture, sources = TrainingExcerpts(tracks, spec, Augmentation(remix=1.0), seed=0)[2]
    torch.testing.assert_close(
        sources.sum(0), mixture[:, spec.context_left : spec.context_left + spec.output_length])


def test_validation_excerpts_fixed(toy_root, spec):
    tracks = StemsFolder(toy_root).tracks("valid")
    dataset = ValidationExcerpts(tracks, spec, per_track=5)
    assert len(dataset) == 5
    torch.testing.assert_close(dataset[4][1], ValidationExcerpts(tracks, spec, 5)[4][1])


def test_read_span_pads_outside_track(toy_root):
    track = StemsFolder(toy_root).tracks("train")[0]
    span = read_span(track, None, -100, 300, track.sample_rate, 2)
    assert np.all(span[:, :100] == 0)
    np.testing.assert_array_equal(span[:, 100:], track.read_mixture(0, 200))
    end = read_span(track, None, track.num_frames - 50, 100, track.sample_rate, 2)
    assert np.all(end[:, 50:] == 0)


def test_read_span_resamples_like_the_whole_track(tmp_path, rng):
    # A 44.1 kHz track read at 22.05 kHz: the span equals the whole track resampled.
    folder = tmp_path / "train" / "song"
    folder.mkdir(parents=True)
    audio = rng.standard_normal((2, 44100)).astype(np.float32) * 0.1
    sf.write(folder / "vocals.wav", audio.T, 44100)
    track = StemsFolder(tmp_path).tracks("train")[0]
    whole = resample(audio, 44100, 22050)
    span = read_span(track, ["vocals"], 5001, 2000, 22050, 2)[0]
    np.testing.assert_allclose(span, whole[:, 5001:7001], atol=1e-4)
    mono = read_span(track, ["vocals"], 5001, 2000, 22050, 1)[0]
    np.testing.assert_allclose(mono[0], whole[:, 5001:7001].mean(0), atol=1e-4)


def test_assemble_sources_residual():
    stems = {name: np.full((2, 4), float(i + 1), np.float32)
             for i, name in enumerate(["vocals", "drums", "bass", "other"])}
    out = assemble_sources(stems, ["vocals", "accompaniment"], "t")
    assert out[0, 0, 0] == 1 and out[1, 0, 0] == 2 + 3 + 4
    out = assemble_sources(stems, ["drums", "vocals", "rest"], "t")
    assert out[2, 0, 0] == 3 + 4
    with pytest.raises(DataError, match=r"t: sources \['x', 'y'\] are not stems"):
        assemble_sources(stems, ["x", "y"], "t")


def test_sampler_epochs_and_shards():
    sampler = ExcerptSampler(10)
    assert list(sampler) == list(range(10))
    sampler.set_epoch(2)
    assert list(sampler) == list(range(20, 30))
    shards = [list(ExcerptSampler(10, num_replicas=3, rank=r)) for r in range(3)]
    assert {len(s) for s in shards} == {4}
    assert len(set(sum(shards, []))) == 12
