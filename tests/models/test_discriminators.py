import functools

import numpy as np
import pytest
import torch

from gansep.data.folder import StemsFolder
from gansep.data.sampling import read_span
from gansep.losses import LSGAN
from gansep.models.discriminators import (Combined, ComplexSTFT, MultiPeriod,
                                          MultiResolutionSpectral, MultiScale,
                                          WaveUNetDiscriminator)
from tests.conftest import tiny_generator


def small(family: str, **kwargs):
    return {
        "msd": lambda: MultiScale(scales=3, channels=4, max_channels=16, **kwargs),
        "mpd": lambda: MultiPeriod(periods=[2, 3, 5], channels=[4, 8, 16], **kwargs),
        "mrsd": lambda: MultiResolutionSpectral(resolutions=[[256, 64, 256], [128, 32, 96]],
                                                channels=4, **kwargs),
        "cstft": lambda: ComplexSTFT(n_ffts=[256, 128], channels=4, **kwargs),
        "combined": lambda: Combined([MultiScale(scales=2, channels=4, max_channels=8, **kwargs),
                                      MultiPeriod(periods=[2, 3], channels=[4, 8], **kwargs)],
                                     weights=[1.0, 0.5]),
        "wud": lambda: WaveUNetDiscriminator(levels=3, channels=4, kernel=9, **kwargs),
    }[family]()


FAMILIES = ["msd", "mpd", "mrsd", "cstft", "combined", "wud"]
SUBNETS = {"msd": 3, "mpd": 3, "mrsd": 2, "cstft": 2, "combined": 4, "wud": 1}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("time", [1000, 4096, 5001])
@pytest.mark.parametrize("conditional, per_source", [(False, False), (True, True)])
def test_outputs_and_features(family, channels, time, conditional, per_source):
    d = small(family, conditional=conditional, per_source=per_source).bind(3, channels)
    sources, mixture = torch.randn(2, 3, channels, time), torch.randn(2, channels, time)
    judgements = d(sources, mixture)
    groups = 3 if per_source else 1
    assert len(judgements) == SUBNETS[family] * groups
    total = 1.5 if family == "combined" else 1.0
    assert sum(j.weight for j in judgements) == pytest.approx(total)
    batch = 2 if per_source else 2 * 3
    for j in judgements:
        assert len(j.features) >= 3
        assert all(f.shape[0] == batch and torch.isfinite(f).all() for f in j.features)
        assert j.logits.shape[1] == 1
        if family == "wud":  # one logit per input sample
            assert j.logits.shape[-1] == time


def test_conditional_needs_mixture_and_binding():
    with pytest.raises(RuntimeError, match="must be bound"):
        small("mpd")(torch.randn(1, 2, 2, 100))
    d = small("mpd", conditional=True).bind(2, 2)
    with pytest.raises(ValueError, match="needs the mixture"):
        d(torch.randn(1, 2, 2, 100))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("conditional", [False, True])
def test_gradient_reaches_the_generator(family, conditional):
    generator = tiny_generator(output_length=1024)
    d = small(family, conditional=conditional).bind(2, 2)
    mixture = torch.randn(2, 2, generator.geometry.input_length)
    estimate = generator(mixture)
    g = generator.geometry
    context = mixture[..., g.context_left : g.context_left + g.output_length]
    loss = sum(LSGAN().generator(j.logits) for j in d(estimate, context))
    loss.backward()
    grads = [p.grad for p in generator.parameters()]
    assert all(gr is not None for gr in grads)
    assert sum(gr.abs().sum() for gr in grads) > 0


@functools.lru_cache(maxsize=1)
def _decoded(root) -> tuple[np.ndarray, ...]:
    """Every toy track's ``(vocals, accompaniment)`` decoded once: the learning tests draw
    thousands of excerpts, and reading each from its files took most of their time."""
    collection = StemsFolder(root)
    tracks = sum((collection.tracks(split) for split in ("train", "valid", "test")), [])
    return tuple(read_span(track, ["vocals", "accompaniment"], 0, track.num_frames, 22050, 2)
                 for track in tracks)


def all_tracks(root):
    return _decoded(root)


def vocal_batch(rng, tracks, size=8, length=2048):
    """Real vocals and the mixture used as the vocal estimate (fake), ``(size, 1, 2, length)``
    each, from random excerpts of the toy tracks (decoded ``(vocals, accompaniment)``)."""
    real, fake = [], []
    for _ in range(size):
        sources = tracks[rng.integers(len(tracks))]
        start = int(rng.integers(0, sources.shape[-1] - length))
        excerpt = sources[..., start:start + length]
        real.append(excerpt[0])
        fake.append(excerpt.sum(0))
    return torch.from_numpy(np.stack(real))[:, None], torch.from_numpy(np.stack(fake))[:, None]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["msd", "mpd", "mrsd", "cstft", "wud"])
def test_discriminator_learns_real_from_mixture(family, toy_root):
    """Tens of steps on short toy excerpts (the Wave-U-Net discriminator, one logit per sample,
    needs a few hundred): vocals (real) against the mixture used as the vocal estimate (fake).
    Accuracy on fresh excerpts must be clearly above chance."""
    torch.manual_seed(0)
    tracks = all_tracks(toy_root)
    d = small(family).bind(1, 2)
    steps, length, lr = (200, 2048, 1e-3) if family == "wud" else (80, 1024, 2e-3)
    optimizer = torch.optim.Adam(d.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        real, fake = vocal_batch(rng, tracks, length=length)
        loss = sum(j.weight * LSGAN().discriminator(r.logits, j.logits)
                   for r, j in zip(d(real), d(fake)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        real, fake = vocal_batch(np.random.default_rng(1), tracks, size=32, length=length)
        score = lambda x: sum(j.weight * j.logits.mean(dim=tuple(range(1, j.logits.dim())))
                              for j in d(x))  # noqa: E731
        accuracy = ((score(real) > 0.5).float().mean() + (score(fake) < 0.5).float().mean()) / 2
    assert accuracy > 0.75, f"{family}: held-out accuracy {accuracy:.2f}"


@pytest.mark.slow
def test_wasserstein_critic_learns_real_from_mixture(toy_root):
    """WGAN-GP's critic passes the same held-out accuracy test as the LSGAN families: real
    vocals score higher than the mixture used as the vocal estimate."""
    from gansep.losses import GAN, Wasserstein
    from gansep.losses.adversarial import critic_values

    torch.manual_seed(0)
    tracks = all_tracks(toy_root)
    gan = GAN(small("mpd").bind(1, 2), Wasserstein(), gradient_penalty=10.0)
    optimizer = torch.optim.Adam(gan.parameters(), lr=2e-3, betas=(0.5, 0.9))
    rng = np.random.default_rng(0)
    for _ in range(80):
        real, fake = vocal_batch(rng, tracks, length=1024)
        loss, terms = gan.discriminator_loss(real, fake, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(terms["gp"])
    with torch.no_grad():
        real, fake = vocal_batch(np.random.default_rng(1), tracks, size=32, length=1024)
        a, b = critic_values(gan.discriminator(real), 32), critic_values(gan.discriminator(fake), 32)
        threshold = (a.median() + b.median()) / 2  # a critic has no fixed decision level
        accuracy = ((a > threshold).float().mean() + (b < threshold).float().mean()) / 2
    assert accuracy > 0.75, f"held-out accuracy {accuracy:.2f}"
