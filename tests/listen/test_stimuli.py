"""Anchor filters against their mask, zero delay, activity, loudness alignment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import freqz

from gansep.listen.stimuli import (PASS_RIPPLE_DB, PEAK_CEILING, STOP_DB, TRANSITION,
                                   active_blocks, active_starts, integrated_loudness,
                                   loudness_gains, lowpass, lowpass_taps)


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
@pytest.mark.parametrize("cutoff", [3500.0, 7000.0])
def test_anchor_filter_meets_the_mask(rate, cutoff):
    taps = lowpass_taps(cutoff, rate)
    frequencies, response = freqz(taps, worN=1 << 16, fs=rate)
    gain_db = 20 * np.log10(np.maximum(np.abs(response), 1e-20))
    passband = frequencies <= cutoff * (1 - TRANSITION)
    stopband = frequencies >= cutoff * (1 + TRANSITION)
    assert np.abs(gain_db[passband]).max() <= PASS_RIPPLE_DB
    assert gain_db[stopband].max() <= -STOP_DB
    at_cutoff = gain_db[np.argmin(np.abs(frequencies - cutoff))]
    assert -6.5 < at_cutoff < -5.5
    assert len(taps) % 2 == 1 and np.allclose(taps, taps[::-1])  # linear phase


def test_anchor_needs_a_rate_above_twice_its_cutoff():
    with pytest.raises(ValueError, match="7000 Hz anchor needs a sample rate above"):
        lowpass_taps(7000.0, 8000)


def test_lowpass_has_no_delay_and_passes_and_stops_tones():
    rate = 22050
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t)
    out = lowpass(np.stack([low + high, low]), 3500.0, rate)
    middle = slice(2000, rate - 2000)  # away from the edges, where zeros lie beyond
    assert np.abs(out[0, middle] - low[middle]).max() < 1e-3  # in phase: no delay
    assert np.abs(out[1, middle] - low[middle]).max() < 1e-3
    impulse = np.zeros((1, 1001))
    impulse[0, 500] = 1
    assert np.argmax(lowpass(impulse, 3500.0, rate)[0]) == 500


def test_activity_finds_the_sounding_part():
    rate = 8000
    audio = np.zeros((2, 3 * rate))
    audio[:, rate:2 * rate] = 0.1 * np.random.default_rng(0).standard_normal((2, rate))
    active = active_blocks(audio, rate, block=0.1)
    assert active.tolist() == [False] * 10 + [True] * 10 + [False] * 10
    assert active_starts(active, span=10, min_fraction=1.0).tolist() == [10]
    assert active_starts(active, span=10, min_fraction=0.8).tolist() == [8, 9, 10, 11, 12]
    assert active_starts(active, span=40, min_fraction=0.1).tolist() == []


def test_loudness_gains_align_loudness_without_clipping(rng):
    rate = 22050
    quiet = 0.01 * rng.standard_normal((2, 2 * rate))
    loud = 0.3 * rng.standard_normal((2, 2 * rate))
    spiky = 0.01 * rng.standard_normal((2, 2 * rate))
    spiky[0, 100] = 0.9  # a peak that would clip if brought up to -23 LUFS
    silent = np.zeros((2, 2 * rate))
    stimuli = {"quiet": quiet, "loud": loud, "spiky": spiky, "silent": silent}
    gains, level, own = loudness_gains(stimuli, rate, target=-23.0)
    assert level < -23.0  # lowered for the spiky one
    assert gains["silent"] == 1.0 and own["silent"] == -np.inf
    for name in ("quiet", "loud", "spiky"):
        scaled = stimuli[name] * gains[name]
        assert integrated_loudness(scaled, rate) == pytest.approx(level, abs=0.01)
        assert np.abs(scaled).max() <= PEAK_CEILING + 1e-9
    assert np.abs(spiky * gains["spiky"]).max() == pytest.approx(PEAK_CEILING)
