"""A plain folder of stems: ``<root>/<split>/<track>/{mixture,<stem>...}.<ext>`` (any stem names,
any format soundfile reads). Without a mixture file the mixture is the sum of the stems. An
optional ``<track>/lyrics_lines.csv`` (JamendoLyrics' lines format) gives the track's lyrics."""

from __future__ import annotations

import logging
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from gansep.data.audio import (AUDIO_EXTENSIONS, DataError, audio_info, read_checked,
                               wav_truncation)
from gansep.data.lyrics import LINES_FILE, LYRICS_FILE, WORDS_FILE, AlignmentSong, read_lines
from gansep.data.tracks import Track, TrackCollection

MIXTURE = "mixture"

log = logging.getLogger(__name__)


class FolderTrack(Track):
    """A track folder: one audio file per stem, all of equal length, rate and channels."""

    def __init__(self, folder: Path, expected_rate: int | None = None):
        self.name = folder.name
        files = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith("."))
        self.files = {p.stem: p for p in files}
        if len(self.files) != len(files):
            raise DataError(f"{folder}: two files share a stem name: {[p.name for p in files]}")
        self.stems = [name for name in self.files if name != MIXTURE]
        if not self.stems:
            raise DataError(f"{folder}: no stem files ({'/'.join(AUDIO_EXTENSIONS)}) besides the "
                            "mixture")
        infos = {name: audio_info(path) for name, path in self.files.items()}
        for path in self.files.values():
            truncated = wav_truncation(path)
            if truncated:
                raise DataError(truncated)
        # The odd file out is the culprit: compare each file with what most files have.
        def usual(attribute: str):
            return Counter(getattr(info, attribute) for info in infos.values()).most_common(1)[0][0]
        self.sample_rate, self.num_frames, self.channels = (
            usual("samplerate"), usual("frames"), usual("channels"))
        first_name = self.stems[0]
        for name, info in infos.items():
            path, others = self.files[name], "the other files have"
            if info.samplerate != self.sample_rate:
                raise DataError(f"{path}: sample rate {info.samplerate} Hz, but {others} "
                                f"{self.sample_rate} Hz")
            if info.frames != self.num_frames:
                raise DataError(f"{path}: {info.frames} frames, but {others} "
                                f"{self.num_frames}: stems must have equal lengths")
            if info.channels != self.channels:
                raise DataError(f"{path}: {info.channels} channels, but {others} "
                                f"{self.channels}")
        if expected_rate is not None and self.sample_rate != expected_rate:
            raise DataError(f"{self.files[first_name]}: sample rate {self.sample_rate} Hz, "
                            f"expected {expected_rate} Hz for this dataset")
        if self.num_frames == 0:
            raise DataError(f"{self.files[first_name]}: empty audio (0 frames)")
        lines = folder / LINES_FILE
        self.lines = read_lines(lines) if lines.is_file() else None

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        return read_checked(self.files[name], start, stop)[0]

    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: self._read(name, start, stop) for name in self.stems}

    def source_files(self) -> list[Path]:
        return sorted(self.files.values())

    def folder(self) -> Path:
        return next(iter(self.files.values())).parent

    def alignment(self) -> AlignmentSong | None:
        folder = self.folder()
        words, lyrics = folder / WORDS_FILE, folder / LYRICS_FILE
        if MIXTURE not in self.files or not words.is_file() or not lyrics.is_file():
            return None
        return AlignmentSong(self.name, self.files[MIXTURE], lyrics, words)

    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        if MIXTURE in self.files:
            return self._read(MIXTURE, start, stop)
        return sum(self.read_stems(start, stop).values())


class StemsFolder(TrackCollection):
    """Tracks in ``<root>/<split>/<track>/``.

    Args:
        root: the dataset folder, holding one folder per split (train, valid, test).
        sample_rate: if set, every file must have this rate (a check, not a resampling: data
            are resampled to the model's rate anyway).
    """

    def __init__(self, root: str | Path, sample_rate: int | None = None):
        self.root = Path(root)
        self.sample_rate = sample_rate
        self._unusable: dict[str, dict[str, str]] = {}

    def identity(self) -> dict:
        return {**super().identity(), "root": str(self.root.resolve()),
                "sample_rate": self.sample_rate}

    def unusable(self, split: str) -> dict[str, str]:
        self.tracks(split)
        return dict(self._unusable.get(split, {}))

    @lru_cache(maxsize=None)
    def tracks(self, split: str) -> list[FolderTrack]:
        self.check_split(split)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset root does not exist or is not a folder")
        folder = self.root / split
        if not folder.is_dir():
            present = sorted(p.name for p in self.root.iterdir() if p.is_dir())
            raise DataError(f"{folder}: split folder missing (found: {present})")
        tracks, unusable = [], self._unusable.setdefault(split, {})
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                tracks.append(FolderTrack(path, self.sample_rate))
            except DataError as error:  # reported once, here; the other tracks go on
                unusable[path.name] = str(error)
                log.error("skipping track %s: %s", path.name, error)
        if not tracks:
            listing = "".join(f"\n  {problem}" for problem in unusable.values())
            usable = " usable" if unusable else ""
            raise DataError(f"{folder}: split {split!r} holds no{usable} track folders{listing}")
        return tracks
