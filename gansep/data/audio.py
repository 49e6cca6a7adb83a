"""Audio file I/O and resampling. Arrays are ``(channels, time)`` float32 throughout."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from gansep.atomic import atomic_target
from gansep.errors import GansepError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")


class DataError(GansepError, ValueError):
    """A dataset or audio file that cannot be used; the message names the file and the problem."""


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """Header of an audio file; DataError naming the file when it cannot be read."""
    try:
        return sf.info(str(path))
    except Exception as error:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise DataError(f"{path}: cannot read audio header ({error})") from None


def wav_truncation(path: str | Path) -> str | None:
    """For a WAV file whose ``data`` chunk holds fewer bytes than its header declares (a copy
    or download cut short: libsndfile then quietly reads what is there), a message naming the
    file and how much is missing; None for complete WAVs and other formats."""
    import struct

    path = Path(path)
    if path.suffix.lower() != ".wav":
        return None
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            head = file.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            order = "<" if head[:4] == b"RIFF" else ">"
            position, block_align, rate = 12, None, None
            while position + 8 <= size:
                file.seek(position)
                chunk, length = struct.unpack(order + "4sI", file.read(8))
                if chunk == b"fmt ":
                    fmt = file.read(16)
                    if len(fmt) == 16:
                        _, _, rate, _, block_align, _ = struct.unpack(order + "HHIIHH", fmt)
                elif chunk == b"data":
                    present = size - position - 8
                    if length in (0, 0xFFFFFFFF) or present >= length:
                        return None  # complete, or a streaming header with no size
                    missing = length - present
                    if block_align and rate:
                        seconds = missing / block_align / rate
                        return (f"{path}: truncated WAV: its header declares {length} bytes of "
                                f"audio, the file holds {present} ({seconds:.2f} s missing)")
                    return (f"{path}: truncated WAV: its header declares {length} bytes of "
                            f"audio, the file holds {present}")
                position += 8 + length + (length & 1)
    except (OSError, struct.error):
        return None
    return None


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
