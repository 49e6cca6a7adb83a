"""gansep listen build: excerpts, loudness, anchors, hashes, and refusals that name the culprit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from gansep.atomic import sha256_file
from gansep.data.audio import DataError, read_audio, write_audio
from gansep.errors import ConfigError
from gansep.listen.build import build_test, load_test
from gansep.listen.stimuli import PEAK_CEILING, integrated_loudness


def test_built_test_describes_every_stimulus(built_test, listen_data):
    description = load_test(built_test)
    trials = description["trials"]
    assert [t["id"] for t in trials] == ["training", "t01", "t02", "t03"]
    rate = description["rate"]
    spans = set()
    for trial in trials:
        assert trial["stop"] - trial["start"] == int(1.5 * rate)
        spans.add((trial["track"], trial["start"]))
        conditions = [s["condition"] for s in trial["stimuli"]]
        assert sorted(conditions) == sorted(["reference", "anchor-3.5kHz", "anchor-7kHz",
                                             "faint", "noisy"])
        keys = [s["key"] for s in trial["stimuli"]] + [trial["reference"]["key"]]
        assert len(set(keys)) == len(keys)
        for entry in (trial["reference"], *trial["stimuli"]):
            path = built_test / entry["file"]
            assert sha256_file(path) == entry["sha256"]
            assert entry["key"] in path.name and "faint" not in path.name
        # Every condition's stimulus is the same span of its own estimate, scaled by its gain.
        for stimulus in trial["stimuli"]:
            audio, _ = read_audio(built_test / stimulus["file"])
            if stimulus["condition"] in listen_data["conditions"]:
                estimate, _ = read_audio(listen_data["conditions"][stimulus["condition"]]
                                         / trial["track"] / "vocals.wav")
                expected = estimate[:, trial["start"]:trial["stop"]] * stimulus["gain"]
                np.testing.assert_allclose(audio, expected, atol=1e-6)
    assert len(spans) == len(trials)  # distinct excerpts


def test_stimuli_of_a_trial_share_one_loudness_and_never_clip(built_test):
    description = load_test(built_test)
    rate = description["rate"]
    for trial in description["trials"]:
        levels = []
        for entry in (trial["reference"], *trial["stimuli"]):
            audio, _ = read_audio(built_test / entry["file"])
            assert np.abs(audio).max() <= PEAK_CEILING + 1e-6
            levels.append(integrated_loudness(audio, rate))
        assert max(levels) - min(levels) < 0.05
        assert max(levels) == pytest.approx(trial["loudness_lufs"], abs=0.05)
        assert trial["loudness_lufs"] <= -23.0 + 1e-9


def test_excerpts_are_where_the_source_is_active(built_test):
    description = load_test(built_test)
    for trial in description["trials"]:
        reference, _ = read_audio(built_test / trial["excerpts"]["reference"]["file"])
        blocks = reference[:, : reference.shape[-1] // 2205 * 2205].reshape(2, -1, 2205)
        rms = np.sqrt((blocks ** 2).mean(axis=(0, 2)))
        assert (rms > 1e-3).mean() >= 0.8


def test_anchors_are_the_low_passed_reference(built_test):
    description = load_test(built_test)
    trial = description["trials"][1]
    rate = description["rate"]
    by_condition = {s["condition"]: s for s in trial["stimuli"]}
    reference = read_audio(built_test / by_condition["reference"]["file"])[0]
    for name, cutoff in (("anchor-3.5kHz", 3500), ("anchor-7kHz", 7000)):
        anchor = read_audio(built_test / by_condition[name]["file"])[0]
        spectrum = np.abs(np.fft.rfft(anchor[0]))
        frequencies = np.fft.rfftfreq(anchor.shape[-1], 1 / rate)
        above = spectrum[frequencies > cutoff * 1.1].max()
        below = np.abs(np.fft.rfft(reference[0]))[frequencies < cutoff * 0.9].max()
        assert above < below * 1e-3


def test_refuses_more_than_twelve_stimuli(listen_data, tmp_path):
    conditions = {f"c{i}": listen_data["conditions"]["faint"] for i in range(10)}
    with pytest.raises(ConfigError, match="13 stimuli per trial; BS.1534-3 allows at most 12"):
        build_test(listen_data["references"], conditions, "vocals", 1, 1.5, tmp_path / "t")
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("defect,says", [
    ("rate", "sample rate 16000 Hz, the reference has 22050 Hz"),
    ("length", "samples, the reference has 88200"),
    ("channels", "1 channel(s), the reference has 2"),
])
def test_refuses_mismatched_estimates_naming_condition_and_track(listen_data, tmp_path, defect,
                                                                 says):
    bad = tmp_path / "bad"
    shutil.copytree(listen_data["conditions"]["faint"], bad)
    path = bad / "toy-test-002" / "vocals.wav"
    audio, rate = read_audio(path)
    if defect == "rate":
        write_audio(path, audio, 16000, "FLOAT")
    elif defect == "length":
        write_audio(path, audio[:, :-10], rate, "FLOAT")
    else:
        write_audio(path, audio[:1], rate, "FLOAT")
    conditions = {"good": listen_data["conditions"]["noisy"], "broken": bad}
    with pytest.raises(DataError, match="condition broken, track toy-test-002") as error:
        build_test(listen_data["references"], conditions, "vocals", 2, 1.5, tmp_path / "t")
    assert says in str(error.value)
    assert not (tmp_path / "t").exists()


def test_refuses_too_few_active_excerpts_and_a_non_empty_folder(listen_data, tmp_path):
    with pytest.raises(ConfigError, match="are needed .* ask for fewer --trials"):
        build_test(listen_data["references"], listen_data["conditions"], "vocals", 40, 3.0,
                   tmp_path / "t")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        build_test(listen_data["references"], listen_data["conditions"], "vocals", 1, 1.5,
                   tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_reserved_and_unsafe_condition_names(listen_data, tmp_path):
    for name in ("reference", "anchor-7kHz", "../up", "a b"):
        with pytest.raises(ConfigError, match=f"condition name {name!r}"):
            build_test(listen_data["references"], {name: listen_data["conditions"]["faint"]},
                       "vocals", 1, 1.5, tmp_path / "t")


def test_same_seed_same_test(listen_data, tmp_path):
    for name in ("a", "b"):
        build_test(listen_data["references"], listen_data["conditions"], "vocals", 2, 1.5,
                   tmp_path / name, seed=7)
    a, b = (json.loads((tmp_path / n / "test.json").read_text()) for n in ("a", "b"))

    def without_hashes(value):
        # libsndfile stamps float WAVs with the time of writing (PEAK chunk): compare the
        # audio itself instead of the files' hashes.
        if isinstance(value, dict):
            return {k: without_hashes(v) for k, v in value.items() if k != "sha256"}
        return [without_hashes(v) for v in value] if isinstance(value, list) else value

    assert without_hashes(a["trials"]) == without_hashes(b["trials"])
    for trial in a["trials"]:
        for entry in trial["stimuli"]:
            np.testing.assert_array_equal(read_audio(tmp_path / "a" / entry["file"])[0],
                                          read_audio(tmp_path / "b" / entry["file"])[0])
