"""Semi-supervised adversarial training: discriminators learn real sources from unpaired solo
recordings only; paired data drives reconstruction."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import pytest
import torch

from gansep.data import SeparationData, StemsFolder, UnpairedSources, make_toy_dataset
from gansep.errors import ConfigError
from gansep.losses import GAN, L1, Objective
from gansep.models.discriminators import MultiPeriod
from gansep.training import GANSeparator
from tests.conftest import tiny_generator


@pytest.fixture(scope="module")
def semi_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("semi")
    return make_toy_dataset(root, seed=4, duration=2.0, tracks={"train": 2, "valid": 1},
                            unpaired=2)


def test_unpaired_excerpts_and_items(semi_root):
    solo = UnpairedSources(semi_root / "unpaired")
    rng = np.random.default_rng(0)
    batch = solo.batch(["vocals", "accompaniment"], rng, 3, 1000, 16000, 1)
    assert batch.shape == (3, 2, 1, 1000) and batch.dtype == np.float32
    data = SeparationData(StemsFolder(semi_root), batch_size=2, excerpts_per_epoch=4,
                          unpaired=solo, unpaired_per_example=2)
    data.configure(tiny_generator())
    plain = SeparationData(StemsFolder(semi_root), batch_size=2, excerpts_per_epoch=4)
    plain.configure(tiny_generator())
    batch = next(iter(data.train_dataloader()))
    mixture, reference, unpaired = batch.mixture, batch.sources, batch.unpaired
    g = tiny_generator().geometry
    assert unpaired.shape == (2, 2, 2, 2, g.output_length)
    # The paired part is the same with or without unpaired data (its own seed stream).
    same = next(iter(plain.train_dataloader()))
    same_mixture, same_reference = same.mixture, same.sources
    assert same.unpaired is None
    assert torch.equal(mixture, same_mixture) and torch.equal(reference, same_reference)
    with pytest.raises(Exception, match="no unpaired drums"):
        solo.batch(["drums"], rng, 1, 100, 22050, 2)


class Spy(MultiPeriod):
    """Records what the discriminator is shown."""

    seen: list = []

    def forward(self, sources, mixture=None):
        Spy.seen.append(sources.detach().clone())
        return super().forward(sources, mixture)


def test_real_examples_come_only_from_the_unpaired_collection(semi_root, tmp_path):
    pl.seed_everything(0)
    solo = UnpairedSources(semi_root / "unpaired")
    generator = tiny_generator(output_length=512)
    module = GANSeparator(generator, Objective([L1()], GAN(Spy(periods=[2], channels=[4]),
                                                           weight=0.1)))
    data = SeparationData(StemsFolder(semi_root), batch_size=2, excerpts_per_epoch=6,
                          unpaired=solo)
    trainer = pl.Trainer(max_steps=3, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0)
    Spy.seen.clear()
    trainer.fit(module, data)
    assert module.global_step == 3 and module.guard.skipped == 0
    # Each discriminator step shows real (first half) then fake: every real example must be
    # an unpaired solo excerpt, none a paired reference.
    loader = data.train_dataloader()
    batches = list(loader)[:3]
    for step, batch in enumerate(batches):
        reference, unpaired = batch.sources, batch.unpaired
        shown = Spy.seen[2 * step][: unpaired.shape[0] * unpaired.shape[1]]  # D pass: real half
        torch.testing.assert_close(shown[:, 0], unpaired.flatten(0, 1)[:, 0])
        assert not torch.allclose(shown[:, 0], reference[:, 0])


def test_conditional_discriminators_refuse_unpaired_data():
    gan = GAN(MultiPeriod(periods=[2], channels=[4], conditional=True).bind(2, 2))
    x = torch.randn(2, 2, 2, 256)
    with pytest.raises(ConfigError, match="conditional discriminator cannot learn from unpaired"):
        gan.discriminator_loss(x, x, torch.randn(2, 2, 256), unpaired=x)
