"""Training and validation samples cut from tracks at the model's rate and geometry.

A sample is ``(mixture, sources)``: ``mixture`` of shape ``(channels, input_length)`` holds the
model's input context around the ``(sources, channels, output_length)`` targets. Where the input
reaches past a track's ends it is zero-padded, so every part of a track can be a target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import ceil, gcd
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from gansep.atomic import sha256_file
from gansep.data.audio import DataError, fit_channels, resample
from gansep.data.lyrics import vocabulary
from gansep.data.tracks import Track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExcerptSpec:
    """What the model takes: its rate, channels, sources and one forward pass's lengths."""

    sample_rate: int
    channels: int
    sources: tuple[str, ...]
    input_length: int
    output_length: int
    context_left: int
    vocabulary: str | None = None  # set for a model with a lyrics head: samples carry lyrics

    @classmethod
    def of(cls, generator) -> "ExcerptSpec":
        g = generator.geometry
        vocabulary = getattr(generator, "config", {}).get("vocabulary")
        return cls(generator.sample_rate, generator.channels, tuple(generator.sources),
                   g.input_length, g.output_length, g.context_left, vocabulary)


@dataclass  # not frozen: Lightning rebuilds dataclasses when it moves batches to a device
class ExcerptLyrics:
    """The lyrics side of a sample (last item of samples for a model with a lyrics head).

    Attributes:
        stems: whether the track has stems (separation terms skip samples without).
        lines: the lines overlapping the output window as ``(start, end, character
            indices)``, in seconds from the window's start (a line may start before 0 or end
            after the window: it is cut); None when the track has no lyrics annotation.
    """

    stems: bool
    lines: tuple | None


class LyricsBatch(list):
    """The `ExcerptLyrics` of a batch, in order."""

    @property
    def stems(self) -> torch.Tensor:
        return torch.tensor([item.stems for item in self], dtype=torch.bool)


@dataclass  # not frozen: Lightning rebuilds dataclasses when it moves batches to a device
class Batch:
    """A training or validation batch, read by name.

    Attributes:
        mixture: ``(batch, channels, input_length)``.
        sources: the targets over the output span, ``(batch, sources, channels,
            output_length)`` (zeros for excerpts without stems: ``auxiliary.stems`` says which).
        unpaired: solo excerpts of every source for the discriminators (semi-supervised data),
            ``(batch, k, sources, channels, output_length)``; None without unpaired data.
        auxiliary: what an auxiliary task's term reads of each excerpt (the lyrics side,
            `LyricsBatch`, whose ``stems`` say which excerpts have separation targets); None
            for a model without an auxiliary head (`gansep.training.tasks`).
    """

    mixture: torch.Tensor
    sources: torch.Tensor
    unpaired: torch.Tensor | None = None
    auxiliary: LyricsBatch | None = None

    def __len__(self) -> int:
        return len(self.mixture)


def collate_excerpts(items: list) -> Batch:
    """The `Batch` of samples ``(mixture, sources[, unpaired solo sources][,
    ExcerptLyrics])``: tensors stacked, the lyrics (variable length) as a
    `LyricsBatch`."""
    from torch.utils.data import default_collate

    lyrics = None
    if items and isinstance(items[0][-1], ExcerptLyrics):
        lyrics = LyricsBatch(item[-1] for item in items)
        items = [item[:-1] for item in items]
    mixture, sources, *unpaired = default_collate(items)
    return Batch(mixture, sources, unpaired[0] if unpaired else None, lyrics)


def excerpt_lyrics(track: Track, start: int, spec: ExcerptSpec) -> ExcerptLyrics:
    """The lyrics of the output window of the sample whose input starts at ``start``."""
    if track.lines is None:
        return ExcerptLyrics(track.has_stems, None)
    encode = vocabulary(spec.vocabulary).encode
    window_start = (start + spec.context_left) / spec.sample_rate
    window_end = window_start + spec.output_length / spec.sample_rate
    lines = tuple((line.start - window_start, line.end - window_start, tuple(encode(line.text)))
                  for line in track.lines
                  if line.end > window_start and line.start < window_end)
    return ExcerptLyrics(track.has_stems, lines)


@dataclass
class Augmentation:
    """Random changes applied to every training sample; the mixture is then rebuilt as the sum
    of the changed sources.

    Args:
        gain: each source is scaled by a factor drawn uniformly from ``[low, high]``;
            None leaves levels alone.
        channel_swap: swap left and right of each source with probability 0.5 (stereo only).
        remix: probability that a source is taken from another random track and position
            instead of the sample's own (remixing across tracks).
    """

    gain: tuple[float, float] | None = (0.7, 1.0)
    channel_swap: bool = True
    remix: float = 0.0

    def __post_init__(self):
        if self.gain is not None and not 0 < self.gain[0] <= self.gain[1]:
            raise ValueError(f"Augmentation.gain must be 0 < low <= high, got {self.gain}")
        if not 0.0 <= self.remix <= 1.0:
            raise ValueError(f"Augmentation.remix must be a probability, got {self.remix}")


def read_span(track: Track, sources: Sequence[str] | None, start: int, length: int,
              rate: int, channels: int) -> np.ndarray:
    """Reads ``length`` samples from ``start`` (both at ``rate``, the model's) of the track's
    sources (``(sources, channels, length)``) or, with ``sources=None``, its mixture
    (``(channels, length)``). Positions outside the track read as zeros."""
    factor = gcd(track.sample_rate, rate)
    up, down = rate // factor, track.sample_rate // factor
    # Read native samples on the grid where model and native samples coincide (multiples of
    # `down`), with a margin that covers the resampling filter, then cut the span out.
    margin = 0 if up == down else down * ceil((10 * max(up, down) / up + 1) / down)
    native_start = (start // up) * down - margin
    native_stop = ceil((start + length) / up) * down + margin
    lo, hi = max(0, native_start), min(track.num_frames, native_stop)
    if sources is None:
        read = lambda a, b: track.read_mixture(a, b)  # noqa: E731
        shape = (track.channels,)
    else:
        read = lambda a, b: track.read_sources(sources, a, b)  # noqa: E731
        shape = (len(sources), track.channels)
    audio = np.zeros(shape + (native_stop - native_start,), dtype=np.float32)
    if hi > lo:
        audio[..., lo - native_start : hi - native_start] = read(lo, hi)
    audio = resample(audio, track.sample_rate, rate)
    offset = start - native_start * up // down
    return fit_channels(audio[..., offset : offset + length], channels)


class TrainingExcerpts(Dataset):
    """Random excerpts. Item ``i`` depends only on ``(seed, i)``, so the sampler's indices fix
    the samples (see `ExcerptSampler`).

    A file that turns out unreadable, truncated or holding NaN is reported once (file and
    reason), its track is left out, and another excerpt is drawn; once more than
    ``max_bad_files`` tracks are out, DataError lists them all.

    Args:
        tracks: the training tracks.
        bad: tracks already known bad (``{name: problem}``), counted against
            ``max_bad_files``.
        unpaired: an `UnpairedSources`: each item then also holds
            ``unpaired_per_example`` solo excerpts of every source ``(k, sources, channels,
            output_length)``, drawn from their own seed stream (the paired part of an item is
            the same with or without them).
        spec: the model's rate, channels, sources and lengths.
        augmentation: random changes, or None.
        seed: base seed.
        max_bad_files: bad tracks tolerated before the run stops.
    """

    def __init__(self, tracks: Sequence[Track], spec: ExcerptSpec,
                 augmentation: Augmentation | None = None, seed: int = 0,
                 max_bad_files: int = 10, bad: dict[str, str] | None = None,
                 unpaired=None, unpaired_per_example: int = 1):
        self.tracks = list(tracks)
        self.unpaired = unpaired
        self.unpaired_per_example = unpaired_per_example
        self.spec = spec
        self.augmentation = augmentation
        self.seed = seed
        self.max_bad_files = max_bad_files
        # track name -> the problem met (``bad``: tracks that could not even be opened)
        self.bad: dict[str, str] = dict(bad or {})
        self._check_bad()

    def __len__(self) -> int:
        return len(self.tracks)

    def _draw(self, rng: np.random.Generator) -> tuple[Track, int]:
        """A random track (not one found bad) and the start (model rate) of its input span."""
        track = self.tracks[rng.integers(len(self.tracks))]
        while track.name in self.bad:
            track = self.tracks[rng.integers(len(self.tracks))]
        frames = track.num_frames * self.spec.sample_rate // track.sample_rate
        out_start = int(rng.integers(0, max(1, frames - self.spec.output_length + 1)))
        return track, out_start - self.spec.context_left

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        while True:
            try:
                return self._excerpt(index)
            except DataError as error:
                self._mark_bad(error)

    def _mark_bad(self, error: DataError) -> None:
        track = next((t for t in self.tracks if t.name not in self.bad
                      and _names_track(str(error), t)), None)
        if track is None:
            raise error
        self.bad[track.name] = str(error)
        log.error("skipping track %s from now on: %s", track.name, error)
        self._check_bad()

    def _check_bad(self) -> None:
        if len(self.bad) > self.max_bad_files or all(t.name in self.bad for t in self.tracks):
            listing = "\n  ".join(self.bad.values())
            raise DataError(f"{len(self.bad)} bad training files (more than max_bad_files = "
                            f"{self.max_bad_files} or no track left):\n  {listing}")

    def _excerpt(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec, aug = self.spec, self.augmentation
        rng = np.random.default_rng((self.seed, index))
        track, start = self._draw(rng)
        if not track.has_stems:
            return _lyrics_only_sample(track, start, spec)  # no targets, no remixing
        args = (spec.sample_rate, spec.channels)
        sources = read_span(track, spec.sources, start, spec.input_length, *args)
        if aug is not None:
            for k in range(len(spec.sources)):
                if aug.remix and rng.random() < aug.remix:
                    other, other_start = self._draw(rng)
                    sources[k] = read_span(other, [spec.sources[k]], other_start,
                                           spec.input_length, *args)[0]
                if aug.gain is not None:
                    sources[k] *= rng.uniform(*aug.gain)
                if aug.channel_swap and spec.channels == 2 and rng.random() < 0.5:
                    sources[k] = sources[k][::-1].copy()
        sample = _sample(sources, spec)
        if self.unpaired is not None:
            solo = self.unpaired.batch(spec.sources,
                                       np.random.default_rng((self.seed, index, 1)),
                                       self.unpaired_per_example, spec.output_length,
                                       spec.sample_rate, spec.channels)
            sample = (*sample, torch.from_numpy(solo))
        if spec.vocabulary is not None:
            sample = (*sample, excerpt_lyrics(track, start, spec))
        return sample


def _sample(sources: np.ndarray, spec: ExcerptSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixture (sum of sources, over the whole input span) and the target sources (the
    output span)."""
    mixture = sources.sum(axis=0)
    stop = spec.context_left + spec.output_length
    return torch.from_numpy(mixture), torch.from_numpy(sources[..., spec.context_left:stop].copy())


def _lyrics_only_sample(track: Track, start: int, spec: ExcerptSpec) -> tuple:
    """A sample of a track without stems (lyrics-only data): its mixture as recorded, zero
    targets (separation terms skip it, by `ExcerptLyrics.stems`) and its lyrics."""
    mixture = read_span(track, None, start, spec.input_length, spec.sample_rate, spec.channels)
    targets = np.zeros((len(spec.sources), spec.channels, spec.output_length), np.float32)
    return (torch.from_numpy(mixture), torch.from_numpy(targets),
            excerpt_lyrics(track, start, spec))


def _names_track(message: str, track: Track) -> bool:
    """Whether an error message is about ``track`` (its folder or file path, or its name)."""
    where = getattr(track, "files", None) or {}
    return any(str(path) in message for path in where.values()) or (
        str(getattr(track, "path", "\0")) in message) or message.startswith(f"{track.name}:")


class ValidationExcerpts(Dataset):
    """Fixed excerpts: ``per_track`` outputs spread evenly over each track, no augmentation."""

    def __init__(self, tracks: Sequence[Track], spec: ExcerptSpec, per_track: int = 4):
        self.tracks = list(tracks)
        self.spec = spec
        self.items = []
        for t, track in enumerate(self.tracks):
            frames = track.num_frames * spec.sample_rate // track.sample_rate
            last = max(0, frames - spec.output_length)
            for position in np.linspace(0, last, per_track).astype(int):
                self.items.append((t, int(position) - spec.context_left))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        t, start = self.items[index]
        spec, track = self.spec, self.tracks[t]
        if not track.has_stems:
            return _lyrics_only_sample(track, start, spec)
        sources = read_span(track, spec.sources, start, spec.input_length, spec.sample_rate,
                            spec.channels)
        sample = _sample(sources, spec)
        if spec.vocabulary is not None:
            sample = (*sample, excerpt_lyrics(track, start, spec))
        return sample


class FullTracks(Dataset):
    """Whole tracks at their native rate, for evaluation: item is a dict with ``name``,
    ``sample_rate``, ``folder`` ([`Track.folder`][]), ``mixture`` ``(channels, time)``,
    ``references`` ``(sources, channels, time)``, optionally cut to the first ``duration``
    seconds, and ``data_sha256`` (``{file name: SHA-256}`` of the files the track is read
    from: results record what they were scored against)."""

    def __init__(self, tracks: Sequence[Track], sources: Sequence[str],
                 duration: float | None = None):
        self.tracks = list(tracks)
        self.sources = list(sources)
        self.duration = duration

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> dict:
        track = self.tracks[index]
        stop = track.num_frames
        if self.duration is not None:
            stop = min(stop, int(self.duration * track.sample_rate))
        return {"name": track.name, "sample_rate": track.sample_rate, "folder": track.folder(),
                "mixture": torch.from_numpy(track.read_mixture(0, stop)),
                "references": torch.from_numpy(track.read_sources(self.sources, 0, stop)),
                "data_sha256": {Path(p).name: sha256_file(p) for p in track.source_files()}}


class ExcerptSampler(DistributedSampler):
    """Indices ``epoch * n + i`` for ``i`` in ``range(n)``, sharded over ``num_replicas``: each
    epoch draws fresh excerpts, reproducibly. Being a DistributedSampler, Lightning calls its
    ``set_epoch`` and does not wrap it again under DDP. `resume` makes the next pass
    start part-way through an epoch."""

    def __init__(self, excerpts_per_epoch: int, num_replicas: int = 1, rank: int = 0):
        # DistributedSampler.__init__ wants a dataset and an initialised process group; this
        # sampler needs neither, so it sets its own state.
        self.num_excerpts = excerpts_per_epoch
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, 0
        self.skip = 0

    @property
    def _per_replica(self) -> int:
        return -(-self.num_excerpts // self.num_replicas)  # equal shards: DDP ranks stay in step

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def resume(self, epoch: int, skip: int) -> None:
        """The next pass yields epoch ``epoch``'s indices from the ``skip``-th on."""
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        total = self._per_replica * self.num_replicas
        base = self.epoch * total
        indices = range(base + self.rank, base + total, self.num_replicas)[self.skip:]
        self.skip = 0
        return iter(indices)

    def __len__(self) -> int:
        return self._per_replica


class ExcerptLoader(DataLoader):
    """A DataLoader over an `ExcerptSampler` whose position in the epoch goes into
    Lightning's checkpoints (Lightning saves and restores loaders that have ``state_dict`` and
    ``load_state_dict``): a run resumed from a mid-epoch checkpoint draws exactly the excerpts
    the uninterrupted run would have. ``progress`` returns the batches of the current epoch
    already trained on (set by the DataModule)."""

    progress = staticmethod(lambda: 0)

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "batches": int(self.progress())}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.resume(state["epoch"], state["batches"] * self.batch_size)
