"""gansep ambiguity: the backing voice's share in an estimate, choice SDR, refusals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gansep.cli.main import main
from gansep.data.ambiguous import make_ambiguous_dataset
from gansep.data.audio import DataError, read_audio, write_audio
from gansep.eval.ambiguity import evaluate_ambiguity, score_track

RATE = 8000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ambiguous")
    make_ambiguous_dataset(root, sample_rate=RATE, duration=8.0, tracks={"test": 2})
    return root


def estimates_for(data, out, c, seed=0):
    """``lead + c·backing`` plus independent noise 20 dB below it, per track."""
    rng = np.random.default_rng(seed)
    for track in sorted((data / "test").iterdir()):
        lead = read_audio(track / "parts" / "lead.wav")[0]
        backing = read_audio(track / "parts" / "backing.wav")[0]
        clean = lead + c * backing
        noise = rng.standard_normal(clean.shape)
        noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-20 / 20)
        write_audio(out / track.name / "vocals.wav", (clean + noise).astype(np.float32), RATE,
                    subtype="FLOAT")
    return out


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0])
def test_the_gain_is_the_share_of_the_backing_voice(data, tmp_path, c):
    estimates = estimates_for(data, tmp_path / "estimates", c)
    scores = []
    for track in sorted((data / "test").iterdir()):
        scores += score_track(track, estimates / track.name / "vocals.wav", "vocals")
    assert len(scores) >= 2
    for score in scores:
        assert score.gain == pytest.approx(c, abs=0.01)
        assert score.lead_gain == pytest.approx(1.0, abs=0.01)
        assert score.residual_db < -10  # the noise alone (20 dB below the track's level)
        # choice SDR: against the nearer valid target, never below the assigned one
        assert score.choice_sdr >= score.sdr
        if c in (0.0, 1.0):
            chose_assigned = (c == 1.0) == (score.phrase.assigned == "vocals")
            assert (score.choice_sdr == score.sdr) == chose_assigned
            assert score.choice_sdr > 10


def test_the_command_writes_the_table_histogram_and_summary(data, tmp_path):
    estimates = estimates_for(data, tmp_path / "estimates", 0.5)
    assert main(["ambiguity", str(data), str(estimates), "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "ambiguity.csv").read_text().splitlines()
    assert table[0] == ("track,start,end,assigned,gain,lead_gain,residual_db,SDR,choice_SDR")
    assert (tmp_path / "out" / "ambiguity.png").stat().st_size > 1000
    summary = (tmp_path / "out" / "ambiguity.md").read_text()
    assert "| 0.0 % | 100.0 % | 0.50" in summary  # every phrase averaged, g = 0.5


def test_refusals_name_the_file(data, tmp_path):
    estimates = estimates_for(data, tmp_path / "estimates", 1.0)
    track = sorted((data / "test").iterdir())[0]
    broken = tmp_path / "data"
    shutil.copytree(data, broken)
    copy = broken / "test" / track.name

    def refused(says, where):
        with pytest.raises(DataError, match=says) as error:
            evaluate_ambiguity(broken, estimates, tmp_path / "out")
        assert str(where) in str(error.value)

    lead = read_audio(copy / "parts" / "lead.wav")[0]
    write_audio(copy / "parts" / "lead.wav", lead[:, :-5], RATE, subtype="FLOAT")
    refused("samples, but the mixture has", copy / "parts" / "lead.wav")
    write_audio(copy / "parts" / "lead.wav", lead[:, ::2], RATE // 2, subtype="FLOAT")
    refused("sample rate 4000 Hz", copy / "parts" / "lead.wav")
    shutil.rmtree(copy / "parts")
    refused("missing", copy / "parts")
    shutil.copytree(track / "parts", copy / "parts")
    (copy / "ambiguity.csv").write_text("")
    refused("no phrase", copy / "ambiguity.csv")
    (copy / "ambiguity.csv").write_bytes(b"\xff\xfe\x00garbage")
    refused("ambiguity.csv", copy / "ambiguity.csv")
    shutil.copyfile(track / "ambiguity.csv", copy / "ambiguity.csv")
    estimate = estimates / track.name / "vocals.wav"
    audio = read_audio(estimate)[0]
    write_audio(estimate, audio[:, :-1], RATE, subtype="FLOAT")
    refused("the estimate must be as long", estimate)
    estimate.unlink()
    refused("no estimate of vocals", estimates / track.name)
