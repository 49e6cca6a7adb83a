"""MUSDB18 (stem .mp4, read through ffmpeg) and MUSDB18-HQ (wav) through ``musdb.DB``.

Splits are musdb's: ``train`` and ``valid`` are its split of the train subset, ``test`` the test
subset. musdb imports stempeg, which needs ffmpeg on PATH; it is imported only here, lazily.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from gansep.data.audio import DataError
from gansep.data.tracks import Track, TrackCollection

MUSDB_SPLITS = {"train": ("train", "train"), "valid": ("train", "valid"), "test": ("test", None)}


class MusdbTrack(Track):
    """A ``musdb.MultiTrack``, read in chunks through its ``chunk_start``/``chunk_duration``."""

    def __init__(self, track):
        self.track = track
        self.name = track.name
        self.sample_rate = int(track.rate)
        self.stems = list(track.sources)
        self.path = Path(track.path)
        self.num_frames = int(round(track.duration * self.sample_rate))
        self.channels = 2

    def _chunk(self, read, start: int, stop: int) -> np.ndarray:
        self.track.chunk_start = start / self.sample_rate
        self.track.chunk_duration = (stop - start) / self.sample_rate
        try:
            audio = np.asarray(read(), dtype=np.float32).T
        except Exception as error:
            raise DataError(f"{self.path}: cannot read frames [{start}, {stop}) ({error})") from None
        finally:
            self.track.chunk_start, self.track.chunk_duration = 0, None
        # musdb converts the span to seconds and back: fix off-by-one lengths.
        length = stop - start
        if audio.shape[-1] < length:
            audio = np.pad(audio, ((0, 0), (0, length - audio.shape[-1])))
        return np.ascontiguousarray(audio[:, :length])

    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: self._chunk(lambda: self.track.sources[name].audio, start, stop)
                for name in self.stems}

    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        return self._chunk(lambda: self.track.audio, start, stop)

    def source_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]  # one .stem.mp4
        return sorted(self.path.glob("*.wav")) if self.path.is_dir() else []


class MUSDB(TrackCollection):
    """MUSDB18 or MUSDB18-HQ.

    Args:
        root: folder holding musdb's ``train/`` and ``test/``.
        is_wav: MUSDB18-HQ (decoded wav folders) rather than stem .mp4 files.
    """

    decoded = True  # stempeg/ffmpeg decodes every read: 1 s per M4 excerpt

    def __init__(self, root: str | Path, is_wav: bool = False):
        self.root = Path(root)
        self.is_wav = is_wav

    def identity(self) -> dict:
        return {**super().identity(), "root": str(self.root.resolve()), "is_wav": self.is_wav}

    @lru_cache(maxsize=None)
    def tracks(self, split: str) -> list[MusdbTrack]:
        self.check_split(split)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: MUSDB root does not exist or is not a folder")
        import musdb  # lazy: imports stempeg, which needs ffmpeg

        subset, musdb_split = MUSDB_SPLITS[split]
        db = musdb.DB(root=str(self.root), is_wav=self.is_wav, subsets=subset, split=musdb_split)
        if not db.tracks:
            kind = "wav folders (is_wav: true)" if self.is_wav else ".stem.mp4 files"
            raise DataError(f"{self.root / subset}: no MUSDB {split} tracks found as {kind}")
        return [MusdbTrack(track) for track in db.tracks]
