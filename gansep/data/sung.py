"""``gansep make-data sung-lyrics``: generated songs whose vocals sing known words, with line and
word timings exact by construction.

Each word is synthesised by espeak-ng (Debian's package; ``make install`` installs it as root)
at a pitch taken from a melody on a pentatonic scale and a speaking rate drawn per line, trimmed
to where it sounds, and placed on the time line: lines of 3 to 6 words with short gaps between
words, a breath (band-passed noise) before each line, and pauses between lines; the track opens
and may close with instrumental parts. The accompaniment (drums, bass, chords) comes from the
toy generator ([`gansep.data.toy.make_toy_track`][]), the levels too.

A track folder holds the stems and mixture (``<split>/<track>/{vocals,drums,bass,other,
mixture}.wav``, the stems layout), ``lyrics_lines.csv`` and ``lyrics_words.csv`` (JamendoLyrics'
formats: a word starts at its first sounding sample and ends after its last) and ``lyrics.txt``
(one line of text a line). Everything depends only on the seed.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from gansep.data.audio import DataError, resample, write_audio
from gansep.data.lyrics import (LYRICS_FILE, WORDS_FILE, LyricLine, LyricWord, write_lines,
                                write_words)
from gansep.data.toy import make_toy_track

log = logging.getLogger(__name__)

#: Short, common, phonetically distinct words (gansep's own list).
WORDS = """love night light day way heart sky blue home road rain sun moon star fire dream
time song sing dance run fly high low slow fast cold warm gold river ocean wind stone city
morning evening shadow window mirror garden summer winter silver golden open closed smile cry
hold hand call name face world wild free young old heart stay go come back again never always
together alone forever tonight tomorrow yesterday little many every only still away around
hello goodbye maybe believe remember follow yellow green red white black bright dark deep
sweet true wrong right long short near far""".split()
PENTATONIC = np.array([0, 2, 4, 7, 9])
SPLITS = {"train": 24, "valid": 3, "test": 4}


def espeak(text: str, pitch: int, speed: int, voice: str = "en") -> tuple[np.ndarray, int]:
    """``text`` spoken by espeak-ng: ``(time,) float32`` and its rate; DataError when espeak-ng
    is missing or fails."""
    if shutil.which("espeak-ng") is None:
        raise DataError("espeak-ng is not installed (make install installs it as root: "
                        "apt-get install espeak-ng); it sings the generated lyrics")
    result = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed),
                             "--stdout", text], capture_output=True, timeout=60)
    if result.returncode != 0 or not result.stdout:
        raise DataError(f"espeak-ng failed on {text!r}: {result.stderr.decode()[:200]}")
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return audio.reshape(len(audio), -1).mean(axis=1), rate


def trim(audio: np.ndarray, threshold_db: float = -40.0) -> np.ndarray:
    """``audio`` without its leading and trailing parts quieter than ``threshold_db`` below
    its peak (the word's first and last sounding samples bound it)."""
    loud = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 10 ** (threshold_db / 20))
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio[:0]


def breath(rng: np.random.Generator, rate: int, seconds: float = 0.3) -> np.ndarray:
    """A breath: noise band-passed around 1-4 kHz under a smooth envelope."""
    from scipy.signal import butter, sosfilt

    n = int(seconds * rate)
    sos = butter(2, [1000, min(4000, rate / 2 - 100)], btype="band", fs=rate, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n))
    return (noise * np.hanning(n) * 0.05 / (np.abs(noise).max() + 1e-9)).astype(np.float32)


def sing(rng: np.random.Generator, rate: int, duration: float
         ) -> tuple[np.ndarray, list[LyricLine], list[tuple[str, LyricWord]]]:
    """A sung vocal track ``(time,)`` of ``duration`` seconds with its lines and words."""
    n = int(duration * rate)
    vocals = np.zeros(n, dtype=np.float32)
    lines: list[LyricLine] = []
    words: list[tuple[str, LyricWord]] = []
    root = int(rng.integers(30, 50))  # espeak-ng pitch scale, 0-99
    t = rng.uniform(1.0, 3.0)  # instrumental intro
    while True:
        count = int(rng.integers(3, 7))
        line_words = [str(w) for w in rng.choice(WORDS, size=count)]
        speed = int(rng.integers(110, 170))
        sung = []
        for word in line_words:
            pitch = int(np.clip(root + 6 * PENTATONIC[rng.integers(len(PENTATONIC))]
                                // 2, 0, 99))
            audio, word_rate = espeak(word, pitch, speed)
            audio = trim(resample(audio[None], word_rate, rate)[0])
            sung.append((word, audio * rng.uniform(0.6, 1.0) / (np.abs(audio).max() + 1e-9)))
        gaps = rng.uniform(0.04, 0.2, size=count - 1)
        length = sum(len(a) for _, a in sung) / rate + gaps.sum()
        if t + 0.4 + length > duration - 0.3:
            break
        b = breath(rng, rate)
        start = int((t + 0.05) * rate)
        vocals[start:start + len(b)] += b[: n - start]
        t += 0.4
        first = t
        for k, (word, audio) in enumerate(sung):
            begin = int(round(t * rate))
            vocals[begin:begin + len(audio)] += audio
            end = (begin + len(audio)) / rate
            words.append((word, LyricWord(begin / rate, end, None)))
            t = end + (gaps[k] if k < len(gaps) else 0.0)
        last_word, last = words[-1]
        words[-1] = (last_word, LyricWord(last.start, last.end, last.end))
        lines.append(LyricLine(first, last.end, " ".join(line_words)))
        t = last.end + rng.uniform(0.6, 2.0)  # pause before the next line
    return vocals, lines, words


def make_sung_dataset(out: str | Path, seed: int = 0, sample_rate: int = 22050,
                      duration: float = 20.0, tracks: dict[str, int] | None = None) -> Path:
    """Writes the sung-lyrics dataset (see the module docstring) under ``out``."""
    out = Path(out)
    for split_index, (split, count) in enumerate((tracks or SPLITS).items()):
        for i in range(count):
            rng = np.random.default_rng((seed, 7, split_index, i))
            vocals, lines, words = sing(rng, sample_rate, duration)
            stems = make_toy_track((seed, 7, split_index, i, 1), sample_rate, duration,
                                   vocals=np.stack([vocals, vocals]))
            folder = out / split / f"sung-{split}-{i:03d}"
            for name, audio in stems.items():
                write_audio(folder / f"{name}.wav", audio, sample_rate, subtype="FLOAT")
            write_lines(folder / "lyrics_lines.csv", lines)
            write_words(folder / WORDS_FILE, [w for _, w in words])
            (folder / LYRICS_FILE).write_text("".join(f"{line.text}\n" for line in lines))
        log.info("wrote %d %s tracks to %s", count, split, out / split)
    return out
