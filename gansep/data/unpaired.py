"""Unpaired solo recordings of each source (vocals alone, accompaniment alone, unrelated to any
mixture), for semi-supervised adversarial training (Stoller, Ewert & Dixon, ICASSP 2018): the
discriminators learn what a real source sounds like from them, while paired data drives the
reconstruction terms."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from gansep.data.audio import (AUDIO_EXTENSIONS, DataError, audio_info, fit_channels, read_checked,
                               resample)


class UnpairedSources:
    """``<root>/<source>/*.<ext>``: any number of files per source, of any length, rate and
    channel count.

    Args:
        root: the folder holding one sub-folder per source name.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._files: dict[str, list[tuple[Path, int, int]]] = {}

    def files(self, source: str) -> list[tuple[Path, int, int]]:
        """``(path, frames, rate)`` of the source's files; DataError when there are none."""
        if source not in self._files:
            folder = self.root / source
            paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in AUDIO_EXTENSIONS
                           and not p.name.startswith(".")) if folder.is_dir() else []
            if not paths:
                raise DataError(f"{folder}: no unpaired {source} recordings "
                                f"({'/'.join(AUDIO_EXTENSIONS)})")
            infos = [(p, audio_info(p)) for p in paths]
            self._files[source] = [(p, i.frames, i.samplerate) for p, i in infos if i.frames]
        return self._files[source]

    def excerpt(self, source: str, rng: np.random.Generator, length: int, rate: int,
                channels: int) -> np.ndarray:
        """A random ``(channels, length)`` excerpt at ``rate`` of one of the source's files
        (files drawn in proportion to their length; zero-padded past a short file's end)."""
        files = self.files(source)
        frames = np.array([f for _, f, _ in files], dtype=float)
        path, total, native = files[rng.choice(len(files), p=frames / frames.sum())]
        span = int(np.ceil(length * native / rate)) + 1
        start = int(rng.integers(0, max(1, total - span + 1)))
        audio, _ = read_checked(path, start, min(total, start + span))
        audio = fit_channels(resample(audio, native, rate), channels)[..., :length]
        return np.pad(audio, ((0, 0), (0, length - audio.shape[-1])))

    def batch(self, sources: Sequence[str], rng: np.random.Generator, count: int, length: int,
              rate: int, channels: int) -> np.ndarray:
        """``(count, sources, channels, length)`` float32 excerpts, each source drawn apart."""
        return np.stack([np.stack([self.excerpt(s, rng, length, rate, channels)
                                   for s in sources]) for _ in range(count)]).astype(np.float32)
