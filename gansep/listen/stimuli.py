"""Signal processing for listening-test stimuli: where a source is active, the ITU-R BS.1534-3
anchors, and loudness alignment (ITU-R BS.1770 through pyloudnorm). Pure numpy/scipy on
``(channels, time)`` float arrays; no files.

Anchor filters. BS.1534-3 (section 5.1) defines the low anchor as the reference low-passed at
3.5 kHz and the mid anchor as the reference low-passed at 7 kHz. gansep's filters are linear-phase
FIR (Kaiser window), applied without delay, so an anchor is sample-aligned with the reference
and switching between them in the page is seamless. Each one meets this mask, checked by the
tests from the taps' frequency response:

- pass band, 0 to ``0.95 * cutoff``: within +/-0.05 dB of unity;
- cut-off: -6 dB at ``cutoff`` (the windowed-sinc design point);
- stop band, from ``1.05 * cutoff`` up: at least 80 dB of attenuation.
"""

from __future__ import annotations

import numpy as np

#: Anchor cut-offs (Hz) of BS.1534-3: low anchor 3.5 kHz, mid anchor 7 kHz.
ANCHORS = {"anchor-3.5kHz": 3500.0, "anchor-7kHz": 7000.0}
LOW_ANCHOR, MID_ANCHOR = "anchor-3.5kHz", "anchor-7kHz"
#: The mask (see the module docstring): relative half-width of the transition band, pass-band
#: tolerance (dB) and stop-band attenuation (dB).
TRANSITION, PASS_RIPPLE_DB, STOP_DB = 0.05, 0.05, 80.0
#: The loudest sample a stimulus may have after loudness alignment (-1 dBFS).
PEAK_CEILING = 10 ** (-1 / 20)


def lowpass_taps(cutoff: float, rate: int) -> np.ndarray:
    """Odd-length linear-phase FIR low-pass meeting the anchor mask at ``cutoff`` Hz."""
    from scipy.signal import firwin, kaiserord

    nyquist = rate / 2
    if cutoff * (1 + TRANSITION) >= nyquist:
        raise ValueError(f"a {cutoff:g} Hz anchor needs a sample rate above "
                         f"{2 * cutoff * (1 + TRANSITION):g} Hz, got {rate} Hz")
    # kaiserord sizes for the smaller of the two ripples; the pass band's +/-0.05 dB is
    # 0.58 % in amplitude, i.e. 45 dB, so the 80 dB stop band governs.
    numtaps, beta = kaiserord(STOP_DB + 6, 2 * TRANSITION * cutoff / nyquist)
    numtaps += 1 - numtaps % 2
    return firwin(numtaps, cutoff, window=("kaiser", beta), fs=rate)


def lowpass(audio: np.ndarray, cutoff: float, rate: int) -> np.ndarray:
    """``audio`` (channels, time) low-passed at ``cutoff`` Hz without delay: output sample t
    is centred on input sample t (the first and last ``len(taps) // 2`` samples see zeros
    beyond the edges, so pass some context and cut it off after)."""
    from scipy.signal import fftconvolve

    taps = lowpass_taps(cutoff, rate)
    delay = len(taps) // 2
    full = fftconvolve(np.asarray(audio, dtype=np.float64), taps[None], axes=-1)
    return full[..., delay:delay + audio.shape[-1]]


def active_blocks(audio: np.ndarray, rate: int, block: float = 0.1,
                  relative_db: float = -30.0, floor_db: float = -60.0) -> np.ndarray:
    """Which ``block``-second blocks of ``audio`` (channels, time) are active: RMS (over
    channels) above both ``floor_db`` dBFS and ``relative_db`` below the loudest block."""
    size = max(1, int(round(block * rate)))
    count = audio.shape[-1] // size
    if count == 0:
        return np.zeros(0, dtype=bool)
    blocks = np.asarray(audio[..., :count * size], dtype=np.float64).reshape(
        audio.shape[0], count, size)
    rms = np.sqrt((blocks ** 2).mean(axis=(0, 2)))
    level = 20 * np.log10(np.maximum(rms, 1e-12))
    return (level > floor_db) & (level > level.max() + relative_db)


def active_starts(activity: np.ndarray, span: int, min_fraction: float) -> np.ndarray:
    """Block indices where a window of ``span`` blocks has at least ``min_fraction`` of its
    blocks active."""
    if span > len(activity):
        return np.zeros(0, dtype=int)
    sums = np.convolve(activity.astype(float), np.ones(span), mode="valid")
    return np.flatnonzero(sums >= min_fraction * span - 1e-9)


def integrated_loudness(audio: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS, BS.1770-4 gating) of ``audio`` (channels, time); -inf when
    every block falls below the absolute gate (silence)."""
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(
        np.asarray(audio, dtype=np.float64).T))


def loudness_gains(stimuli: dict[str, np.ndarray], rate: int,
                   target: float = -23.0) -> tuple[dict[str, float], float, dict[str, float]]:
    """Linear gains that bring every stimulus of a trial to one integrated loudness: ``target``
    LUFS, or lower if that would lift some stimulus's peak above -1 dBFS (nothing clips).
    A silent stimulus (loudness -inf) keeps gain 1.

    Returns ``(gains, the trial's loudness in LUFS, each stimulus's own loudness)``."""
    loudness = {name: integrated_loudness(audio, rate) for name, audio in stimuli.items()}
    level = target
    for name, audio in stimuli.items():
        peak = float(np.abs(audio).max())
        if np.isfinite(loudness[name]) and peak > 0:
            level = min(level, loudness[name] + 20 * np.log10(PEAK_CEILING / peak))
    gains = {name: float(10 ** ((level - value) / 20)) if np.isfinite(value) else 1.0
             for name, value in loudness.items()}
    return gains, float(level), loudness
