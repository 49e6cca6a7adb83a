"""The LightningDataModule: a track collection cut into samples for the model being trained."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from gansep.data.sampling import (Augmentation, ExcerptLoader, ExcerptSampler, ExcerptSpec,
                                  FullTracks, TrainingExcerpts, ValidationExcerpts,
                                  collate_excerpts)
from gansep.data.cache import CachedCollection, default_cache_dir
from gansep.data.tracks import TrackCollection
from gansep.data.unpaired import UnpairedSources
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
    Trainer call `configure` with the generator.

    Args:
        collection: the dataset (``StemsFolder``, ``MUSDB``, ...).
        batch_size: training and validation batch size.
        excerpts_per_epoch: random training excerpts per epoch.
        valid_excerpts_per_track: fixed validation excerpts per validation track.
        augmentation: random changes to training samples; None for none.
        test_duration: evaluate only the first seconds of each test track (None: whole tracks).
        num_workers: DataLoader worker processes (persistent). None: on a GPU, the CPUs this
            process may use less one (at most 8); on a CPU-only trainer 0, since workers would
            take cores from the training step itself.
        cache_dir: where the decoded cache of the training and validation tracks lives (see
            `gansep.data.cache`): "auto" caches collections that decode on every read
            (MUSDB18 .mp4, MUSDB18-HQ through musdb) under ``$GANSEP_CACHE`` or
            ``~/.cache/gansep``, and reads others directly; a path caches any collection
            there; None never caches.
        unpaired: solo recordings of each source (`UnpairedSources`)
            from which the discriminators of a GANSeparator take their real examples
            (semi-supervised training); paired data still drives the reconstruction terms.
        unpaired_per_example: solo examples per paired example in each batch (the ratio).
        lyrics: a second collection whose training and validation tracks join the first's,
            typically songs with lyrics but no stems (``JamendoLyrics``, or stems folders with
            ``lyrics_lines.csv``), for a model with a lyrics head: its excerpts train the head
            and the shared layers; separation terms skip excerpts without stems. Excerpts are
            drawn uniformly over all tracks.
        cache_dtype: ``float32`` (bit-identical excerpts) or ``float16`` (half the disk,
            adds an error about 74 dB below the signal).
        seed: seed of the training excerpts (together with the epoch).
        max_bad_files: training tracks found unreadable, truncated or holding NaN are skipped
            (each reported once); more than this many stop the run with their list.
    """

    def __init__(self, collection: TrackCollection, batch_size: int = 4,
                 excerpts_per_epoch: int = 1000, valid_excerpts_per_track: int = 4,
                 augmentation: Augmentation | None = None, test_duration: float | None = None,
                 num_workers: int | None = 0, seed: int = 0, max_bad_files: int = 10,
                 cache_dir: str | None = "auto",
                 cache_dtype: Literal["float32", "float16"] = "float32",
                 unpaired: UnpairedSources | None = None, unpaired_per_example: int = 1,
                 lyrics: TrackCollection | None = None):
        super().__init__()
        _check_options(batch_size=batch_size, excerpts_per_epoch=excerpts_per_epoch,
                       valid_excerpts_per_track=valid_excerpts_per_track,
                       num_workers=0 if num_workers is None else num_workers,
                       max_bad_files=max_bad_files,
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
        self.cache_dir = cache_dir
        self.cache_dtype = cache_dtype
        if unpaired_per_example < 1:
            raise ConfigError(f"data.unpaired_per_example must be >= 1, got "
                              f"{unpaired_per_example!r}")
        self.unpaired = unpaired
        self.unpaired_per_example = unpaired_per_example
        self.lyrics = lyrics
        self.spec: ExcerptSpec | None = None
        self._training_tracks: TrackCollection | None = None

    def resolved_cache_dir(self) -> Path | None:
        """The cache folder in use, or None when the collection is read directly."""
        if self.cache_dir is None:
            return None
        if self.cache_dir == "auto":
            return default_cache_dir() if self.collection.decoded else None
        return Path(self.cache_dir)

    def training_collection(self) -> TrackCollection:
        """The collection training and validation excerpts come from: the decoded cache when
        one is configured (built here on first use), else the collection itself."""
        if self._training_tracks is None:
            folder = self.resolved_cache_dir()
            self._training_tracks = self.collection if folder is None else CachedCollection(
                self.collection, folder, self.spec.sample_rate, self.spec.channels,
                self.cache_dtype)
        return self._training_tracks

    def _lyrics_tracks(self, split: str) -> list:
        if self.lyrics is None:
            return []
        if self.spec.vocabulary is None:
            raise ConfigError("data.lyrics is set, but the model has no lyrics head (use "
                              "gansep.models.LyricsWaveUNet)")
        return self.lyrics.tracks(split)

    def _workers(self) -> int:
        if self.num_workers is not None:
            return self.num_workers
        trainer = self.trainer
        on_gpu = trainer is not None and trainer.strategy.root_device.type == "cuda"
        return min(8, max(0, len(os.sched_getaffinity(0)) - 1)) if on_gpu else 0

    def configure(self, generator) -> "SeparationData":
        """Takes rate, channels, sources and lengths from ``generator``."""
        self.spec = ExcerptSpec.of(generator)
        self._training_tracks = None
        return self

    def setup(self, stage: str | None = None) -> None:
        if self.spec is None:
            self.configure(self.trainer.lightning_module.generator)

    def _loader_options(self) -> dict:
        workers = self._workers()
        trainer = self.trainer
        pin = trainer is not None and trainer.strategy.root_device.type == "cuda"
        return dict(num_workers=workers, persistent_workers=workers > 0, pin_memory=pin,
                    **({"prefetch_factor": 4} if workers else {}))

    def _loader(self, dataset, **kwargs) -> DataLoader:
        return DataLoader(dataset, **self._loader_options(), **kwargs)

    def train_dataloader(self) -> DataLoader:
        collection = self.training_collection()
        dataset = TrainingExcerpts(collection.tracks("train") + self._lyrics_tracks("train"),
                                   self.spec,
                                   self.augmentation, self.seed, self.max_bad_files,
                                   bad=collection.unusable("train"), unpaired=self.unpaired,
                                   unpaired_per_example=self.unpaired_per_example)
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = ExcerptSampler(self.excerpts_per_epoch, replicas, rank)
        loader = ExcerptLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                               drop_last=True, collate_fn=collate_excerpts,
                               **self._loader_options())
        if trainer is not None:
            # Batches of this epoch trained on when a checkpoint is written (after the batch).
            loader.progress = lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return loader

    def val_dataloader(self) -> DataLoader:
        dataset = ValidationExcerpts(self.training_collection().tracks("valid")
                                     + self._lyrics_tracks("valid"), self.spec,
                                     self.valid_excerpts_per_track)
        return self._loader(dataset, batch_size=self.batch_size, collate_fn=collate_excerpts)

    def test_dataloader(self) -> DataLoader:
        dataset = FullTracks(self.collection.tracks("test"), self.spec.sources,
                             self.test_duration)
        return self._loader(dataset, batch_size=1, collate_fn=_first)
