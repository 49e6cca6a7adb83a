"""Audio file I/O and resampling. Arrays are ``(channels, time)`` float32 throughout."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from gansep.atomic import atomic_target

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")


class DataError(ValueError):
    """A dataset or audio file that cannot be used; the message names the file and the problem."""


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """Header of an audio file; DataError naming the file when it cannot be read."""
    try:
        return sf.info(str(path))
    except Exception as error:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise DataError(f"{path}: cannot read audio header ({error})") from None


def read_audio(path: str | Path, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Reads frames ``[start, stop)`` of ``path``. Returns ``((channels, time) float32, rate)``."""
    try:
        data, rate = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as error:
        raise DataError(f"{path}: cannot read audio ({error})") from None
    return np.ascontiguousarray(data.T), rate


def write_audio(path: str | Path, audio: np.ndarray, rate: int, subtype: str | None = None) -> None:
    """Writes ``(channels, time)`` audio atomically (see :func:`gansep.atomic.atomic_target`)."""
    with atomic_target(path) as tmp:
        sf.write(tmp, np.asarray(audio).T, rate, subtype=subtype)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling along the last axis (scipy's Kaiser-windowed FIR)."""
    if from_rate == to_rate:
        return audio
    from scipy.signal import resample_poly  # imported here: scipy.signal takes ~0.8 s

    factor = gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // factor, int(from_rate) // factor
    return resample_poly(audio, up, down, axis=-1).astype(np.float32, copy=False)
