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
                       ("start,end\n0.0,0.5\n", "row 2")):
        path.write_text(text)
        with pytest.raises(DataError, match=says) as error:
            read_phrases(path)
        assert str(path) in str(error.value)
    with pytest.raises(DataError, match="cannot read"):
        read_phrases(tmp_path / "missing.csv")
    write_phrases(path, make_ambiguous_track((0, 0, 1), RATE, 6.0).phrases)
    assert read_phrases(path)
