"""JamendoLyrics as a track collection: mixtures (no stems) with line-level lyrics, for
lyrics-only training or evaluation (``<root>/JamendoLyrics.csv``, ``mp3/``, ``annotations/``;
see `gansep.data.lyrics.jamendo_songs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from gansep.data.audio import DataError, audio_info, read_audio
from gansep.data.lyrics import AlignmentSong, jamendo_songs
from gansep.data.tracks import Track, TrackCollection


class SongTrack(Track):
    """A song without stems: its mixture and its lyrics lines."""

    has_stems = False

    def __init__(self, name: str, audio: Path, lines: list, song: AlignmentSong | None = None):
        info = audio_info(audio)
        if info.frames <= 0:
            raise DataError(f"{audio}: empty audio (0 frames)")
        self.name, self.path, self.lines = name, Path(audio), lines
        self.sample_rate, self.num_frames, self.channels = (info.samplerate, info.frames,
                                                            info.channels)
        self.stems = []
        self.song = song

    def alignment(self) -> AlignmentSong | None:
        return self.song

    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {}

    def read_sources(self, sources: Sequence[str], start: int, stop: int) -> np.ndarray:
        """Zeros: a song without stems has no separation targets (its excerpts are marked
        ``has_stems`` False, and separation terms skip them)."""
        return np.zeros((len(sources), self.channels, stop - start), dtype=np.float32)

    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        audio, _ = read_audio(self.path, start, stop)
        if audio.shape[-1] != stop - start:
            raise DataError(f"{self.path}: truncated: asked for frames [{start}, {stop}), got "
                            f"{audio.shape[-1]}")
        return audio

    def source_files(self) -> list[Path]:
        return [self.path]


class JamendoLyrics(TrackCollection):
    """The songs of a JamendoLyrics folder, all in one split.

    Args:
        root: the dataset folder.
        language: only songs of this language (``English``, ``French``, ...); None: all.
        split: the split its songs belong to (``test`` for evaluation, ``train`` to train a
            lyrics head on them); the other splits are empty.
    """

    def __init__(self, root: str | Path, language: str | None = None, split: str = "test"):
        self.check_split(split)
        self.root, self.language, self.split = Path(root), language, split

    def identity(self) -> dict:
        return {**super().identity(), "root": str(self.root.resolve()),
                "language": self.language, "split": self.split}

    def tracks(self, split: str) -> list[SongTrack]:
        self.check_split(split)
        if split != self.split:
            return []
        words = self.root / "annotations" / "words"
        return [SongTrack(song.name, song.audio, song.lines,
                          AlignmentSong(song.name, song.audio, song.lyrics,
                                        words / f"{song.name}.csv"))
                for song in jamendo_songs(self.root, self.language)]
