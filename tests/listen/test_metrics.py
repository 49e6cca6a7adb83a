"""gansep listen metrics: each stimulus scored on its excerpt, at the separator's own scale."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gansep.data.audio import DataError, read_audio
from gansep.eval.bsseval import bss_eval, median_over_frames
from gansep.eval.si_sdr import si_sdr
from gansep.listen.build import load_test
from gansep.listen.metrics import METRICS, compute_metrics


@pytest.mark.slow
def test_metrics_of_every_stimulus_match_direct_scoring(built_test, listen_data):
    rows = compute_metrics(built_test)
    description = load_test(built_test)
    assert len(rows) == 3 * 4  # trials x (anchors + conditions); the hidden reference left out
    assert {r["condition"] for r in rows} == {"anchor-3.5kHz", "anchor-7kHz", "faint", "noisy"}
    for trial in description["trials"][1:]:
        by = {r["condition"]: r for r in rows if r["trial"] == trial["id"]}
        assert by["faint"]["SDR"] > by["noisy"]["SDR"] + 10
        assert by["faint"]["L1"] < by["noisy"]["L1"]
        assert by["faint"]["MRSTFT"] < by["noisy"]["MRSTFT"]
        # Against the original audio, without the build's loudness gain.
        span = slice(trial["start"], trial["stop"])
        track = listen_data["references"] / trial["track"]
        reference = read_audio(track / "vocals.wav")[0][:, span].astype(np.float64)
        interference = sum(read_audio(track / f"{s}.wav")[0][:, span].astype(np.float64)
                           for s in ("bass", "drums", "other"))
        estimate = read_audio(listen_data["conditions"]["noisy"] / trial["track"]
                              / "vocals.wav")[0][:, span].astype(np.float64)
        assert by["noisy"]["SI-SDR"] == pytest.approx(si_sdr(reference, estimate), abs=1e-3)
        assert by["noisy"]["L1"] == pytest.approx(np.abs(estimate - reference).mean(), rel=1e-4)
        scores = bss_eval(np.stack([reference, interference]),
                          np.stack([estimate, interference]), description["rate"])
        for metric in ("SDR", "SIR", "SAR", "ISR"):
            assert by["noisy"][metric] == pytest.approx(
                median_over_frames(scores[metric])[0], abs=1e-3)
    assert set(rows[0]) == {"trial", "condition", *METRICS}


def test_a_changed_stimulus_is_named(built_test, tmp_path):
    copy = tmp_path / "test"
    shutil.copytree(built_test, copy)
    entry = load_test(copy)["trials"][2]["stimuli"][1]
    with open(copy / entry["file"], "r+b") as file:
        file.seek(-8, 2)
        file.write(b"\x00" * 8)
    with pytest.raises(DataError, match=entry["file"].replace("/", ".") + ": SHA-256 differs"):
        compute_metrics(copy)
