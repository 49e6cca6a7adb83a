"""Audio file I/O and resampling. Arrays are ``(channels, time)`` float32 throughout."""

from __future__ import annotations

import logging
import subprocess
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from gansep.atomic import atomic_target
from gansep.errors import GansepError

# What libsndfile reads (segments of a file on demand), and what only ffmpeg decodes (whole,
# first audio stream: a stems .mp4's mixture).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")
SOUNDFILE_EXTENSIONS = AUDIO_EXTENSIONS + (".mp3",)
FFMPEG_EXTENSIONS = (".mp4", ".m4a", ".aac", ".opus", ".webm")
READABLE = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS

log = logging.getLogger(__name__)


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
    """Reads frames ``[start, stop)`` of ``path`` in any `READABLE` format (soundfile,
    or ffmpeg for mp4/m4a/aac/opus/webm). Returns ``((channels, time) float32, rate)``;
    DataError naming the file when it cannot be read."""
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        audio, rate = _decode_ffmpeg(path)
        return np.ascontiguousarray(audio[:, start:stop]), rate
    try:
        data, rate = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as error:
        raise DataError(f"{path}: cannot read audio ({error})") from None
    return np.ascontiguousarray(data.T), rate


def _decode_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream of ``path``, decoded whole by ffmpeg to float32."""
    if not path.is_file():
        raise DataError(f"{path}: cannot read audio (no such file)")
    try:
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0",
                                "-show_entries", "stream=sample_rate,channels", "-of",
                                "csv=p=0", str(path)], capture_output=True, text=True, check=True)
        rate, channels = (int(v) for v in probe.stdout.strip().split(",")[:2])
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0",
                                  "-f", "f32le", "-"], capture_output=True, check=True)
    except FileNotFoundError:
        raise DataError(f"{path}: reading {path.suffix} needs ffmpeg on PATH") from None
    except (subprocess.CalledProcessError, ValueError) as error:
        message = getattr(error, "stderr", "") or error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        raise DataError(f"{path}: ffmpeg cannot decode it ({str(message).strip()[:200]})") from None
    audio = np.frombuffer(decoded.stdout, dtype=np.float32).reshape(-1, channels).T
    return np.ascontiguousarray(audio), rate


def read_checked(path: str | Path, start: int = 0, stop: int | None = None,
                 truncated: str = "refuse") -> tuple[np.ndarray, int]:
    """[`read_audio`][] with one set of checks, each a DataError naming the file: empty audio,
    NaN or infinite samples, fewer frames than ``[start, stop)`` asks for, and a WAV whose header
    declares more audio than the file holds (``truncated="refuse"``, for scoring: the part that
    is there is another signal; ``"warn"``: logged, the part that is there used)."""
    if truncated not in ("refuse", "warn"):
        raise ValueError(f"truncated must be 'refuse' or 'warn', got {truncated!r}")
    audio, rate = read_audio(path, start, stop)
    if stop is not None and audio.shape[-1] != stop - start:
        raise DataError(f"{path}: truncated: frames [{start}, {stop}) asked for, "
                        f"{audio.shape[-1]} read")
    if stop is None:
        cut = wav_truncation(path)
        if cut and truncated == "refuse":
            raise DataError(f"{cut}; not scored or used: the part that is there is another signal")
        if cut:
            log.warning("warning: %s; using the part that is there", cut)
        if audio.shape[-1] == 0:
            raise DataError(f"{path}: empty audio (0 samples)")
    if not np.isfinite(audio).all():
        where = "" if stop is None else f" in frames [{start}, {stop})"
        raise DataError(f"{path}: NaN or infinite samples{where}")
    return audio, rate


def write_audio(path: str | Path, audio: np.ndarray, rate: int, subtype: str | None = None) -> None:
    """Writes ``(channels, time)`` audio atomically (see `gansep.atomic.atomic_target`)."""
    with atomic_target(path) as tmp:
        sf.write(tmp, np.asarray(audio).T, rate, subtype=subtype)


#: Formats written by encoding a float WAV with ffmpeg: ``{format: (encoder, default bitrate)}``.
ENCODED = {"mp3": ("libmp3lame", "320k"), "ogg": ("libvorbis", "256k")}
#: Every format gansep writes separated audio in.
WRITABLE = ("wav", "flac", *ENCODED)


def encode(wav: str | Path, target: str | Path, format: str, bitrate: str | None = None) -> None:
    """Encodes the WAV file ``wav`` into ``target`` (``format`` one of `ENCODED`, at
    ``bitrate``, e.g. ``192k``; default the format's) with ffmpeg; DataError when ffmpeg is
    missing or refuses."""
    encoder, default = ENCODED[format]
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", encoder, "-b:a",
               bitrate or default, "-f", format, str(target)]
    try:
        subprocess.run(command, check=True, capture_output=True)
    except FileNotFoundError:
        raise DataError(f"{target}: writing {format} needs ffmpeg on PATH") from None
    except subprocess.CalledProcessError as error:
        raise DataError(f"{target}: ffmpeg could not encode {format} "
                        f"({error.stderr.decode(errors='replace').strip()[:200]})") from None


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling along the last axis (scipy's Kaiser-windowed FIR)."""
    if from_rate == to_rate:
        return audio
    from scipy.signal import resample_poly  # imported here: scipy.signal takes ~0.8 s

    factor = gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // factor, int(from_rate) // factor
    return resample_poly(audio, up, down, axis=-1).astype(np.float32, copy=False)



def fit_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mono to stereo by duplication, stereo to mono by averaging (the paper's mono downmix)."""
    if audio.shape[-2] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=-2, keepdims=True)
    if audio.shape[-2] == 1:
        return np.repeat(audio, channels, axis=-2)
    raise DataError(f"cannot map {audio.shape[-2]} channels to {channels}: gansep turns mono "
                    "into any channel count and any count into mono; give the generator the "
                    "data's channel count")
