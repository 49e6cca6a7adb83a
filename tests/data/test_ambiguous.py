"""Ambiguous data: exact sums, assignments that follow the seed and the options, the layout."""

from __future__ import annotations

import numpy as np
import pytest

from gansep.data import StemsFolder
from gansep.data.ambiguous import (make_ambiguous_dataset, make_ambiguous_track, read_phrases,
                                   write_phrases)
from gansep.data.audio import DataError, read_audio

RATE = 8000


def test_the_parts_and_the_targets_sum_to_the_mixture_exactly():
    track = make_ambiguous_track((0, 0, 1), RATE, 8.0)
    assert track.lead.dtype == track.mixture.dtype == np.float32
    assert np.array_equal(track.lead + track.backing + track.instruments, track.mixture)
    assert np.array_equal(track.vocals + track.accompaniment, track.mixture)
    assert np.array_equal((track.lead + track.instruments) + track.backing, track.mixture)
    # Each backing phrase is in exactly one target.
    rest = track.backing - track.backing_in_vocals
    for phrase in track.phrases:
        span = slice(int(phrase.start * RATE), int(phrase.end * RATE))
        inside = track.backing_in_vocals[:, span] if phrase.assigned == "vocals" else rest[:, span]
        assert np.array_equal(inside, track.backing[:, span]) and np.any(inside)


def test_the_backing_voice_sits_in_the_level_range():
    track = make_ambiguous_track((0, 0, 2), RATE, 8.0, backing_db=(-6.0, -6.0))
    active = np.any(track.backing != 0, axis=0)
    level = 10 * np.log10(np.mean(track.backing[:, active].astype(float) ** 2)
                          / np.mean(track.lead.astype(float) ** 2))
    assert level == pytest.approx(-6.0, abs=0.5)


@pytest.mark.slow
def test_assignments_follow_the_seed_and_the_probability():
    def assigned(seed, **options):
        return [p.assigned for p in make_ambiguous_track(seed, RATE, 10.0, **options).phrases]

    assert assigned((1, 0, 0)) == assigned((1, 0, 0))
    assert set(assigned((1, 0, 0), vocals_prob=1.0)) == {"vocals"}
    assert set(assigned((1, 0, 0), vocals_prob=0.0)) == {"accompaniment"}
    draws = sum((assigned((2, 0, i)) for i in range(5)), [])
    assert len(draws) >= 15 and 0.25 < draws.count("vocals") / len(draws) < 0.75
    tracks = [set(assigned((3, 0, i), assign="track")) for i in range(5)]
    assert all(len(t) == 1 for t in tracks) and len(set().union(*tracks)) == 2


def test_the_cue_ties_the_timbre_to_the_assignment():
    """With cue timbre, two tracks differing only in the assignment differ in the backing
    voice's timbre; without the cue, the voice is the same whatever the assignment."""
    def backing(cue, prob):
        return make_ambiguous_track((4, 0, 0), RATE, 8.0, vocals_prob=prob, cue=cue).backing

    assert np.array_equal(backing("none", 0.0), backing("none", 1.0))
    assert not np.array_equal(backing("timbre", 0.0), backing("timbre", 1.0))


def test_the_bright_voice_sings_two_octaves_above_the_dark_one():
    """The same backing line sung by either voice (every phrase to vocals: bright; to the
    accompaniment: dark): the strongest partial of each 64 ms frame, the fundamental of both,
    lies two octaves higher in the bright voice."""
    def peaks(prob):
        mono = make_ambiguous_track((4, 0, 0), RATE, 8.0, vocals_prob=prob,
                                    cue="timbre").backing.astype(float).sum(0)
        frames = np.lib.stride_tricks.sliding_window_view(mono, 512)[::512]
        loud = np.sum(frames ** 2, axis=1) > 0.1 * np.max(np.sum(frames ** 2, axis=1))
        spectra = np.abs(np.fft.rfft(frames * np.hanning(512), axis=1))
        return np.argmax(spectra, axis=1), loud

    (bright, loud), (dark, _) = peaks(1.0), peaks(0.0)
    ratios = bright[loud] / np.maximum(dark[loud], 1)
    assert loud.sum() >= 20 and np.median(ratios) == pytest.approx(4.0, rel=0.1)


def test_a_rate_that_would_silence_the_bright_voice_is_refused():
    with pytest.raises(ValueError, match="sample_rate must be at least 8000"):
        make_ambiguous_track((4, 0, 0), 6000, 4.0)


def test_the_backing_pan_puts_the_backing_voice_off_centre_on_either_side():
    def balance(track):  # the backing voice's right-channel share of energy
        energy = np.sum(track.backing.astype(float) ** 2, axis=1)
        return energy[1] / energy.sum()

    centred = [balance(make_ambiguous_track((6, 0, i), RATE, 6.0)) for i in range(6)]
    assert all(0.35 < b < 0.65 for b in centred)
    wide = [balance(make_ambiguous_track((6, 0, i), RATE, 6.0, backing_pan=(0.3, 0.4)))
            for i in range(6)]
    # pan 0.1-0.2 or 0.8-0.9 (sqrt panning: the energy share is the pan)
    assert all(0.08 < b < 0.22 or 0.78 < b < 0.92 for b in wide), wide
    assert min(wide) < 0.5 < max(wide)  # both sides drawn
    with pytest.raises(ValueError, match="backing_pan"):
        make_ambiguous_track((6, 0, 0), RATE, 6.0, backing_pan=(0.2, 0.7))


def test_each_phrase_records_its_voice_drawn_apart_from_the_assignment_without_a_cue(tmp_path):
    phrases = {cue: sum((make_ambiguous_track((5, 0, i), RATE, 10.0, cue=cue).phrases
                         for i in range(8)), []) for cue in ("none", "timbre")}
    for phrase in phrases["timbre"]:
        assert phrase.voice == ("bright" if phrase.assigned == "vocals" else "dark")
    pairs = {(p.voice, p.assigned) for p in phrases["none"]}
    assert len(phrases["none"]) >= 24 and len(pairs) == 4  # every voice in either stem
    path = tmp_path / "ambiguity.csv"
    write_phrases(path, phrases["none"])
    assert path.read_text().splitlines()[0] == "start,end,assigned,voice"
    assert read_phrases(path) == phrases["none"]
    path.write_text("start,end,assigned,voice\n0.0,0.5,vocals,\n")  # a voice left unknown
    assert read_phrases(path)[0].voice is None


def test_the_layout_reads_as_a_stems_folder(tmp_path):
    make_ambiguous_dataset(tmp_path / "a", sample_rate=RATE, duration=6.0,
                           tracks={"train": 1, "test": 1})
    track = tmp_path / "a" / "test" / "ambiguous-test-000"
    assert sorted(p.name for p in track.iterdir()) == [
        "accompaniment.wav", "ambiguity.csv", "mixture.wav", "parts", "vocals.wav"]
    assert sorted(p.name for p in (track / "parts").iterdir()) == ["backing.wav", "lead.wav"]
    [folder_track] = StemsFolder(tmp_path / "a").tracks("test")
    assert folder_track.stems == ["accompaniment", "vocals"]  # parts/ are no stems
    audio = {name: read_audio(track / f"{name}.wav")[0] for name in
             ("mixture", "vocals", "accompaniment")}
    assert np.array_equal(audio["vocals"] + audio["accompaniment"], audio["mixture"])
    assert read_phrases(track / "ambiguity.csv")
    make_ambiguous_dataset(tmp_path / "b", sample_rate=RATE, duration=6.0, tracks={"test": 1},
                           stems="lead-backing")
    [split] = StemsFolder(tmp_path / "b").tracks("test")
    assert sorted(split.stems) == ["accompaniment", "backing", "lead"]


def test_a_bad_phrase_file_is_named(tmp_path):
    path = tmp_path / "ambiguity.csv"
    for text, says in (("", "no phrase"), ("start,end,assigned\n", "no phrase"),
                       ("start,end,assigned\n1.0,0.5,vocals\n", "row 2"),
                       ("start,end,assigned\n0.0,0.5,drums\n", "row 2"),
                       ("start,end\n0.0,0.5\n", "row 2"),
                       ("start,end,assigned,voice\n0.0,0.5,vocals,shrill\n", "voice 'shrill'")):
        path.write_text(text)
        with pytest.raises(DataError, match=says) as error:
            read_phrases(path)
        assert str(path) in str(error.value)
    with pytest.raises(DataError, match="cannot read"):
        read_phrases(tmp_path / "missing.csv")
    write_phrases(path, make_ambiguous_track((0, 0, 1), RATE, 6.0).phrases)
    assert read_phrases(path)
