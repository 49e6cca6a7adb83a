"""gansep check-data and bad files met during training."""

import logging
import shutil

import numpy as np
import pytest
import soundfile as sf

from gansep.data import StemsFolder
from gansep.data.audio import DataError
from gansep.data.sampling import ExcerptSpec, TrainingExcerpts
from tests.conftest import tiny_generator


@pytest.fixture
def broken_root(toy_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(toy_root, root)
    train = root / "train"
    (train / "toy-train-000" / "vocals.wav").write_bytes(b"RIFF? no")  # unreadable
    path = train / "toy-train-001" / "bass.wav"
    audio, rate = sf.read(path, dtype="float32")
    audio[::400] = np.nan  # NaN samples all through the file
    sf.write(path, audio, rate, subtype="FLOAT")
    path = root / "valid" / "toy-valid-000" / "drums.wav"
    sf.write(path, np.zeros_like(sf.read(path)[0]), rate, subtype="FLOAT")  # silent, and the
    # mixture no longer equals the sum
    path = root / "test" / "toy-test-000" / "other.wav"
    sf.write(path, sf.read(path)[0][:-10], rate, subtype="FLOAT")  # shorter
    return root


def test_check_data_lists_every_problem(cli, broken_root, toy_root, tmp_path):
    out = cli(["check-data", str(broken_root)], tmp_path, check=False)
    assert out.returncode == 1
    text = out.stdout  # the report, on stdout
    assert "toy-train-000/vocals.wav: cannot read audio header" in text
    assert "toy-train-001/bass.wav: NaN or infinite samples" in text
    assert "toy-train-001: mixture differs from the sum of the stems" not in text.split(
        "NaN")[0]  # NaN is reported as NaN first
    assert "toy-valid-000/drums.wav: silent stem" in text
    assert "toy-valid-000: mixture differs from the sum of the stems" in text
    assert "toy-test-000: unequal lengths" in text
    assert "6 track(s) checked" in text
    clean = cli(["check-data", str(toy_root), "--sample-rate", "22050"], tmp_path)
    assert "6 track(s) checked, 0 problem(s)" in clean.stdout  # the report, on stdout
    wrong_rate = cli(["check-data", str(toy_root), "--sample-rate", "44100"], tmp_path,
                     check=False)
    assert wrong_rate.returncode == 1 and "expected 44100 Hz" in wrong_rate.stdout


def test_check_data_takes_a_run_config(broken_root, toy_root, caplog, capsys):
    """--config RUN.yaml [--key value]: the run's collection (any TrackCollection) is checked:
    the tracks it cannot open, and in the others every file and the stems' content."""
    from pathlib import Path

    from gansep.cli import check_data

    config = str(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")
    caplog.set_level(logging.INFO)
    assert check_data.main(["--config", config, "--data.collection.init_args.root",
                            str(broken_root)]) == 1
    text = capsys.readouterr().out + caplog.text  # the report; the skipped tracks' lines
    assert "toy-train-000/vocals.wav: cannot read audio header" in text
    assert "toy-train-001/bass.wav: NaN or infinite samples" in text
    assert "toy-valid-000: silent stem drums" in text
    assert "toy-valid-000: mixture differs from the sum of the stems" in text
    assert "toy-test-000/other.wav" in text
    caplog.clear()
    assert check_data.main(["--config", config, "--data.collection.init_args.root",
                            str(toy_root)]) == 0
    assert "6 track(s) checked, 0 problem(s)" in capsys.readouterr().out


def test_bad_training_files_are_skipped_then_listed(broken_root, caplog):
    spec = ExcerptSpec.of(tiny_generator())
    # The unreadable header already fails the folder scan; keep the NaN file only.
    shutil.rmtree(broken_root / "train" / "toy-train-000")
    train = StemsFolder(broken_root).tracks("train")
    dataset = TrainingExcerpts(train, spec, seed=0, max_bad_files=1)
    for index in range(40):
        mixture, sources = dataset[index]
        assert np.isfinite(mixture.numpy()).all()
    assert list(dataset.bad) == ["toy-train-001"]
    assert caplog.text.count("skipping track toy-train-001") == 1
    assert "bass.wav: NaN or infinite samples" in caplog.text
    strict = TrainingExcerpts(train, spec, seed=0, max_bad_files=0)
    with pytest.raises(DataError, match=r"1 bad training files .*\n  .*bass.wav: NaN"):
        for index in range(40):
            strict[index]
