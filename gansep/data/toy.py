"""A generated MUSDB-HQ-style dataset, so that everything runs on a fresh machine.

Each track holds a singing-like ``vocals`` stem (a harmonic voice with vibrato, glides between
notes, vowel formants and silent gaps between phrases) and an accompaniment split like MUSDB's
into ``drums`` (kick, snare, hi-hat), ``bass`` (plucked bass line on the chord roots) and
``other`` (sustained chords); ``mixture`` is their exact sum. Everything follows from the seed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gansep.data.audio import write_audio

log = logging.getLogger(__name__)

MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
# (F1, F2, F3) in Hz of five vowels, after Peterson & Barney (1952).
VOWELS = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010],
                   [570, 840, 2410], [300, 870, 2240]], dtype=float)
STEMS = ("vocals", "drums", "bass", "other")
SPLIT_SIZES = {"train": 16, "valid": 2, "test": 4}


def midi_to_hz(note: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(note) - 69) / 12)


def _envelope(n: int, rate: int, attack: float, release: float) -> np.ndarray:
    """Linear attack, sustain, linear release over ``n`` samples."""
    env = np.ones(n)
    a, r = max(1, min(n // 2, int(attack * rate))), max(1, min(n // 2, int(release * rate)))
    env[:a] = np.linspace(0, 1, a, endpoint=False)
    env[n - r:] = np.linspace(1, 0, r)
    return env


def _harmonic(f0: np.ndarray, rate: int, amplitude) -> np.ndarray:
    """Additive synthesis of harmonics of the time-varying ``f0``; ``amplitude(k, freqs)`` gives
    the amplitude of harmonic ``k`` at its frequencies. Harmonics above 0.45 * rate are left out."""
    phase = 2 * np.pi * np.cumsum(f0) / rate
    out = np.zeros_like(f0)
    for k in range(1, int(0.45 * rate / max(f0.max(), 1.0)) + 1):
        freqs = k * f0
        out += np.where(freqs < 0.45 * rate, amplitude(k, freqs), 0.0) * np.sin(k * phase)
    return out


def sung_line(rng, rate: int, n: int, key: int, register: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """A sung melody: ``(f0, gain, formants, phrases)`` over ``n`` samples, phrases of 3-8
    notes on the key's major scale (``register`` semitones up) with glides and delayed
    vibrato, silent gaps between them; ``phrases`` are their ``(start, stop)`` samples."""
    f0 = np.full(n, 220.0)
    gain = np.zeros(n)
    formants = np.tile(VOWELS[0], (n, 1))
    phrases = []
    t = int(rng.uniform(0.0, 0.8) * rate)
    degree, previous = rng.integers(7, 12), None
    while t < n:
        start = t
        for _ in range(rng.integers(3, 9)):  # one phrase
            length = int(rng.uniform(0.15, 0.6) * rate)
            stop = min(n, t + length)
            if stop - t < 8:
                break
            degree = int(np.clip(degree + rng.integers(-2, 3), 2, 16))
            note = key + 55 + 12 * (degree // 7) + MAJOR_SCALE[degree % 7] - 12 + register
            freq = midi_to_hz(note)
            seg = np.arange(stop - t) / rate
            glide_from = previous if previous is not None else freq
            glide = glide_from + (freq - glide_from) * np.minimum(1.0, seg / 0.04)
            depth = rng.uniform(0.2, 0.6) * np.minimum(1.0, seg / 0.15)  # delayed vibrato
            vibrato = 2.0 ** (depth * np.sin(2 * np.pi * rng.uniform(4.8, 6.5) * seg) / 12)
            f0[t:stop] = glide * vibrato
            gain[t:stop] = rng.uniform(0.6, 1.0) * _envelope(stop - t, rate, 0.02, 0.05)
            formants[t:stop] = VOWELS[rng.integers(len(VOWELS))] * rng.uniform(0.95, 1.05)
            previous, t = freq, stop
        if t > start:
            phrases.append((start, t))
        previous = None
        t += int(rng.uniform(0.3, 1.2) * rate)  # silent gap between phrases
    # Smooth the vowel changes over 30 ms.
    kernel = np.ones(int(0.03 * rate)) / int(0.03 * rate)
    formants = np.stack([np.convolve(formants[:, i], kernel, mode="same") for i in range(3)], 1)
    return f0, gain, formants, phrases


def sing(f0: np.ndarray, gain: np.ndarray, formants: np.ndarray, rate: int,
         tilt: float = 1.0, formant_scale: float = 1.0) -> np.ndarray:
    """The mono voice of a [`sung_line`][]: a glottal source (harmonic ``k`` at ``1 /
    k**tilt``) through three resonances at ``formant_scale`` times the formants."""
    def amplitude(k, freqs):
        resonance = sum(1.0 / (1.0 + ((freqs - formant_scale * formants[:, i])
                                      / (60.0 + 30 * i)) ** 2) / (i + 1) for i in range(3))
        return (0.15 + resonance) / k ** tilt
    return gain * _harmonic(f0, rate, amplitude)


def stereo_voice(rng, voice: np.ndarray, gain: np.ndarray,
                 pan: float | None = None) -> np.ndarray:
    """A mono voice panned (``pan``: 0 left, 1 right; None: drawn near the centre, 0.4 to
    0.6), with breath noise independent in each channel: a real stereo image, not a panned
    mono source (whose proportional channels would make BSSEval's distortion filters
    non-unique)."""
    if pan is None:
        pan = rng.uniform(0.4, 0.6)
    breath = gain * 0.01 * rng.standard_normal((2, len(voice)))
    return np.stack([np.sqrt(1 - pan) * voice, np.sqrt(pan) * voice]) + breath


def _vocals(rng, rate, n, key) -> np.ndarray:
    f0, gain, formants, _ = sung_line(rng, rate, n, key)
    return stereo_voice(rng, sing(f0, gain, formants, rate), gain)


def _drums(rng, rate, n, step) -> np.ndarray:
    out = np.zeros((2, n))
    kick_steps = {0} | set(rng.choice([6, 8, 10, 11, 14], size=rng.integers(1, 3), replace=False))
    snare_steps = {4, 12}
    hat_prob = rng.uniform(0.5, 1.0)

    def place(sound, at, pan):
        stop = min(n, at + len(sound))
        out[0, at:stop] += np.sqrt(1 - pan) * sound[: stop - at]
        out[1, at:stop] += np.sqrt(pan) * sound[: stop - at]

    t_kick = np.arange(int(0.35 * rate)) / rate
    kick = np.sin(2 * np.pi * np.cumsum(45 + 90 * np.exp(-t_kick / 0.03)) / rate)
    kick *= np.exp(-t_kick / 0.12)
    t_snare = np.arange(int(0.25 * rate)) / rate
    for i, at in enumerate(range(0, n, step)):
        s = i % 16
        if s in kick_steps:
            place(kick * rng.uniform(0.8, 1.0), at, 0.5)
        if s in snare_steps:
            noise = np.diff(rng.standard_normal(len(t_snare) + 1))
            snare = (0.5 * noise + np.sin(2 * np.pi * 185 * t_snare)) * np.exp(-t_snare / 0.07)
            place(0.6 * snare * rng.uniform(0.8, 1.0), at, 0.45)
        if s % 2 == 0 and rng.random() < hat_prob:
            hat = np.diff(rng.standard_normal(int(0.06 * rate) + 2), 2)
            hat *= np.exp(-np.arange(len(hat)) / (0.015 * rate))
            place(0.15 * hat, at, 0.65)
    return out


def _bass(rng, rate, n, step, roots) -> np.ndarray:
    line = np.zeros((2, n))
    patterns = ([0, 4, 8, 12], [0, 6, 8, 14], [0, 3, 8, 10, 12])
    pattern = patterns[rng.integers(len(patterns))]
    for i, at in enumerate(range(0, n, step)):
        if i % 16 not in pattern:
            continue
        length = min(n - at, int(rng.uniform(1.5, 3.0) * step))
        seg = np.arange(length) / rate
        envelope = 0.5 * np.exp(-seg / 0.35) * _envelope(length, rate, 0.005, 0.02)
        for channel, detune in ((0, -0.02), (1, 0.02)):  # slight chorus: a stereo bass
            f0 = np.full(length, midi_to_hz(roots[(i // 16) % len(roots)] + 36 + detune))
            note = _harmonic(f0, rate, lambda k, f: np.exp(-0.35 * k) * np.ones_like(f))
            line[channel, at:at + length] += note * envelope
    return line


def _chords(rng, rate, n, step, roots) -> np.ndarray:
    out = np.zeros((2, n))
    bar = 16 * step
    for b, at in enumerate(range(0, n, bar)):
        length = min(n - at, bar)
        root = roots[b % len(roots)] + 48
        for interval in (0, 4, 7) if rng.random() < 0.6 else (0, 3, 7, 10):
            for channel, detune in ((0, -0.06), (1, 0.06)):  # detuned voices: stereo width
                f0 = np.full(length, midi_to_hz(root + interval + detune))
                tone = _harmonic(f0, rate, lambda k, f: k ** -1.5 * np.ones_like(f))
                out[channel, at:at + length] += 0.12 * tone * _envelope(length, rate, 0.12, 0.1)
    return out


def make_toy_track(seed: int | tuple, sample_rate: int = 22050,
                   duration: float = 10.0, vocals: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """One toy track: ``{stem: (2, time) float32}`` for vocals, drums, bass, other and mixture.
    ``vocals`` ``(2, time)``, when given, replaces the generated voice (levels are set the
    same way)."""
    rng = np.random.default_rng(seed)
    n = int(duration * sample_rate)
    key = int(rng.integers(0, 12))
    step = int(60 / rng.uniform(90, 130) / 4 * sample_rate)  # one sixteenth note
    degrees = rng.choice([0, 3, 4, 5], size=4)
    roots = key + MAJOR_SCALE[degrees] - 12
    stems = {
        "vocals": _vocals(rng, sample_rate, n, key) if vocals is None else
        np.asarray(vocals, dtype=np.float64)[..., :n],
        "drums": _drums(rng, sample_rate, n, step),
        "bass": _bass(rng, sample_rate, n, step, roots),
        "other": _chords(rng, sample_rate, n, step, roots),
    }
    accompaniment = stems["drums"] + stems["bass"] + stems["other"]
    # Vocal-to-accompaniment ratio between -4 and +2 dB, as in much of MUSDB.
    ratio = 10 ** (rng.uniform(-4, 2) / 20)
    stems["vocals"] *= ratio * np.sqrt(np.mean(accompaniment**2) / np.mean(stems["vocals"] ** 2))
    mixture = sum(stems.values())
    scale = 0.9 / np.abs(mixture).max()
    stems = {name: (audio * scale).astype(np.float32) for name, audio in stems.items()}
    # The sum of float32 stems, so that mixture == sum of stems exactly as stored.
    stems["mixture"] = np.sum([stems[name] for name in STEMS], axis=0, dtype=np.float32)
    return stems


def make_toy_dataset(out: str | Path, seed: int = 0, sample_rate: int = 22050,
                     duration: float = 10.0, tracks: dict[str, int] | None = None,
                     unpaired: int = 0) -> Path:
    """Writes ``<out>/<split>/toy-<split>-<i>/{mixture,vocals,drums,bass,other}.wav`` (32-bit float
    WAV). Track ``i`` of a split depends only on ``(seed, split, i)``. With ``unpaired``, also
    ``<out>/unpaired/{vocals,accompaniment}/toy-solo-<i>.wav``: solo vocals and accompaniments
    of other generated songs, unrelated to each other and to every mixture (for
    `UnpairedSources`)."""
    out = Path(out)
    sizes = dict(SPLIT_SIZES if tracks is None else tracks)
    for split_index, (split, count) in enumerate(sizes.items()):
        for i in range(count):
            folder = out / split / f"toy-{split}-{i:03d}"
            stems = make_toy_track((seed, split_index, i), sample_rate, duration)
            for name, audio in stems.items():
                write_audio(folder / f"{name}.wav", audio, sample_rate, subtype="FLOAT")
        log.info("wrote %d %s tracks to %s", count, split, out / split)
    for i in range(unpaired):
        vocals = make_toy_track((seed, 100, i), sample_rate, duration)["vocals"]
        backing = make_toy_track((seed, 101, i), sample_rate, duration)
        accompaniment = sum(backing[name] for name in ("drums", "bass", "other"))
        for name, audio in (("vocals", vocals), ("accompaniment", accompaniment)):
            write_audio(out / "unpaired" / name / f"toy-solo-{i:03d}.wav", audio, sample_rate,
                        subtype="FLOAT")
    if unpaired:
        log.info("wrote %d unpaired vocals and accompaniments to %s", unpaired, out / "unpaired")
    return out
