"""The LightningDataModule: a track collection cut into samples for the model being trained."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from gansep.data.sampling import (Augmentation, ExcerptLoader, ExcerptSampler, ExcerptSpec,
                                  FullTracks,
                                  TrainingExcerpts, ValidationExcerpts)
from gansep.data.tracks import TrackCollection
from gansep.errors import ConfigError


def _check_options(**options) -> None:
    """ConfigError naming every ``data.*`` option out of range."""
    at_least = {"batch_size": 1, "excerpts_per_epoch": 1, "valid_excerpts_per_track": 1,
                "num_workers": 0, "max_bad_files": 0}
    problems = [f"data.{name} must be an integer >= {low}, got {options[name]!r}"
                for name, low in at_least.items()
                if not isinstance(options[name], int) or options[name] < low]
    duration = options["test_duration"]
    if duration is not None and not duration > 0:
        problems.append(f"data.test_duration must be positive seconds (or null), got {duration!r}")
    if problems:
        raise ConfigError("; ".join(problems))


def _first(batch: list):
    return batch[0]


class SeparationData(pl.LightningDataModule):
    """Training excerpts, validation excerpts and full test tracks from one collection.

    The rate, channels, sources and lengths come from the generator being trained (the
    LightningModule's ``generator``), so they are configured once, on the model; outside a
    Trainer call :meth:`configure` with the generator.

    Args:
        collection: the dataset (``StemsFolder``, ``MUSDB``, ...).
        batch_size: training and validation batch size.
        excerpts_per_epoch: random training excerpts per epoch.
        valid_excerpts_per_track: fixed validation excerpts per validation track.
        augmentation: random changes to training samples; None for none.
        test_duration: evaluate only the first seconds of each test track (None: whole tracks).
        num_workers: DataLoader worker processes.
        seed: seed of the training excerpts (together with the epoch).
        max_bad_files: training tracks found unreadable, truncated or holding NaN are skipped
            (each reported once); more than this many stop the run with their list.
    """

    def __init__(self, collection: TrackCollection, batch_size: int = 4,
                 excerpts_per_epoch: int = 1000, valid_excerpts_per_track: int = 4,
                 augmentation: Augmentation | None = None, test_duration: float | None = None,
                 num_workers: int = 0, seed: int = 0, max_bad_files: int = 10):
        super().__init__()
        _check_options(batch_size=batch_size, excerpts_per_epoch=excerpts_per_epoch,
                       valid_excerpts_per_track=valid_excerpts_per_track,
                       num_workers=num_workers, max_bad_files=max_bad_files,
                       test_duration=test_duration)
        self.collection = collection
        self.batch_size = batch_size
        self.excerpts_per_epoch = excerpts_per_epoch
        self.valid_excerpts_per_track = valid_excerpts_per_track
        self.augmentation = augmentation
        self.test_duration = test_duration
        self.num_workers = num_workers
        self.seed = seed
        self.max_bad_files = max_bad_files
        self.spec: ExcerptSpec | None = None

    def configure(self, generator) -> "SeparationData":
        """Takes rate, channels, sources and lengths from ``generator``."""
        self.spec = ExcerptSpec.of(generator)
        return self

    def setup(self, stage: str | None = None) -> None:
        if self.spec is None:
            self.configure(self.trainer.lightning_module.generator)

    def _loader(self, dataset, **kwargs) -> DataLoader:
        return DataLoader(dataset, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, **kwargs)

    def train_dataloader(self) -> DataLoader:
        dataset = TrainingExcerpts(self.collection.tracks("train"), self.spec,
                                   self.augmentation, self.seed, self.max_bad_files,
                                   bad=self.collection.unusable("train"))
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = ExcerptSampler(self.excerpts_per_epoch, replicas, rank)
        loader = ExcerptLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                               drop_last=True, num_workers=self.num_workers,
                               persistent_workers=self.num_workers > 0)
        if trainer is not None:
            # Batches of this epoch trained on when a checkpoint is written (after the batch).
            loader.progress = lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return loader

    def val_dataloader(self) -> DataLoader:
        dataset = ValidationExcerpts(self.collection.tracks("valid"), self.spec,
                                     self.valid_excerpts_per_track)
        return self._loader(dataset, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        dataset = FullTracks(self.collection.tracks("test"), self.spec.sources,
                             self.test_duration)
        return self._loader(dataset, batch_size=1, collate_fn=_first)
