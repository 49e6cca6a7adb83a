"""Tracks and track collections: the common interface of every dataset.

A [`Track`][] reads any span of its stems (and its mixture) at its native sample rate; a
[`TrackCollection`][] lists the tracks of a split. Datasets differ only here: sampling,
augmentation and resampling (``sampling.py``) work on any collection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import numpy as np

from gansep.data.audio import DataError
from gansep.data.lyrics import AlignmentSong

SPLITS = ("train", "valid", "test")


class Track(ABC):
    """One multitrack song.

    Attributes:
        name: track name, unique in its collection.
        sample_rate: native rate in Hz.
        num_frames: length in samples.
        channels: audio channels.
        stems: names of the stems it holds (mixture excluded).
        has_stems: False for a mixture-only track (lyrics data without stems): separation
            terms skip its excerpts.
        lines: its lyrics, line by line (`LyricLine`), or None
            when it has no lyrics annotation (not the same as an empty list: no line sung).
    """

    name: str
    sample_rate: int
    num_frames: int
    channels: int
    stems: list[str]
    has_stems: bool = True
    lines: list | None = None

    @abstractmethod
    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Stems over ``[start, stop)``, each ``(channels, stop - start)`` float32."""

    @abstractmethod
    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        """The mixture over ``[start, stop)``, ``(channels, stop - start)`` float32."""

    def source_files(self) -> list:
        """The files the track is read from (for caches and provenance records)."""
        return []

    def remarks(self) -> list[str]:
        """What a person should know about the track that is no problem (``check-data``
        prints them as notes), e.g. recorded tracks flagged with bleed."""
        return []

    def folder(self) -> Path | None:
        """The folder holding the track's files, for what reads more of it than its stems
        (the ambiguity metric's ``ambiguity.csv`` and ``parts/``); None where it has none."""
        return None

    def alignment(self) -> AlignmentSong | None:
        """What lyrics alignment reads of it (audio, lyrics text and reference word timings
        files), or None where it has no word timings."""
        return None

    def read_sources(self, sources: Sequence[str], start: int, stop: int) -> np.ndarray:
        """The wanted ``sources`` over ``[start, stop)`` as ``(sources, channels, time)``."""
        return assemble_sources(self.read_stems(start, stop), sources, self.name)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, {self.num_frames} frames at "
                f"{self.sample_rate} Hz, stems {self.stems})")


def assemble_sources(stems: dict[str, np.ndarray], sources: Sequence[str],
                     track: str) -> np.ndarray:
    """Builds the separation targets from a track's stems: a source that is a stem is taken as
    it is; at most one source may name no stem, and it is the sum of all remaining stems (the
    usual "accompaniment" = drums + bass + other)."""
    missing = [name for name in sources if name not in stems]
    if len(missing) > 1:
        raise DataError(f"{track}: sources {missing} are not stems of this track (stems: "
                        f"{sorted(stems)}); only one source may be the sum of the other stems")
    rest = [stem for stem in stems if stem not in sources]
    if missing and not rest:
        raise DataError(f"{track}: source {missing[0]!r} would be the sum of the remaining "
                        f"stems, but none remain (stems: {sorted(stems)})")
    some = next(iter(stems.values()))
    out = np.empty((len(sources),) + some.shape, dtype=np.float32)
    for i, name in enumerate(sources):
        out[i] = stems[name] if name in stems else sum(stems[stem] for stem in rest)
    return out


class TrackCollection(ABC):
    """A dataset: tracks grouped into ``train``, ``valid`` and ``test`` splits."""

    @abstractmethod
    def tracks(self, split: str) -> list[Track]:
        """The usable tracks of ``split``; DataError when none is, or it cannot be read."""

    #: Whether reading needs decoding (compressed or read through ffmpeg): such collections
    #: are cached decoded by default (see `gansep.data.cache`).
    decoded = False

    def identity(self) -> dict:
        """What names this collection's data (for cache keys)."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}"}

    def unusable(self, split: str) -> dict[str, str]:
        """Tracks of ``split`` that could not even be opened (left out of `tracks`),
        ``{name: problem}``; the problem names the file."""
        return {}

    @staticmethod
    def check_split(split: str) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}: expected one of {list(SPLITS)}")


def alignment_songs_of(collection: TrackCollection, split: str = "test") -> list[AlignmentSong]:
    """The songs of ``collection``'s ``split`` that have word timings to align and score
    ([`Track.alignment`][]); DataError when none has."""
    songs = [song for track in collection.tracks(split)
             if (song := track.alignment()) is not None]
    if not songs:
        raise DataError(f"{type(collection).__name__}: no {split} track has word timings to "
                        "align (lyrics text and word annotations)")
    return songs
