"""Bad datasets give errors that name the file and the problem."""

import numpy as np
import pytest
import soundfile as sf

from gansep.data.audio import DataError
from gansep.data.folder import StemsFolder


def write_track(folder, length=1000, rate=22050, stems=("vocals", "accompaniment"), channels=2):
    folder.mkdir(parents=True)
    for name in stems:
        sf.write(folder / f"{name}.wav", np.zeros((length, channels), np.float32), rate)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="nothing-here: dataset root does not exist"):
        StemsFolder(tmp_path / "nothing-here").tracks("train")


def test_missing_and_empty_split(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"test: split folder missing \(found: \['train'\]\)"):
        StemsFolder(tmp_path).tracks("test")
    with pytest.raises(DataError, match="split 'train' holds no track folders"):
        StemsFolder(tmp_path).tracks("train")
    with pytest.raises(DataError, match="unknown split 'dev'"):
        StemsFolder(tmp_path).tracks("dev")


def test_unequal_stem_lengths(tmp_path):
    write_track(tmp_path / "train" / "song")
    sf.write(tmp_path / "train" / "song" / "vocals.wav", np.zeros((900, 2), np.float32), 22050)
    with pytest.raises(DataError, match=r"vocals.wav: 900 frames, but the other files have 1000"):
        StemsFolder(tmp_path).tracks("train")


def test_sample_rate_mismatch_between_stems_and_expected(tmp_path):
    write_track(tmp_path / "train" / "song")
    sf.write(tmp_path / "train" / "song" / "vocals.wav", np.zeros((1000, 2), np.float32), 44100)
    with pytest.raises(DataError, match=r"vocals.wav: sample rate 44100 Hz, but the other files have 22050 Hz"):
        StemsFolder(tmp_path).tracks("train")
    write_track(tmp_path / "valid" / "song", rate=22050)
    with pytest.raises(DataError, match=r"sample rate 22050 Hz, expected 44100 Hz"):
        StemsFolder(tmp_path, sample_rate=44100).tracks("valid")


def test_unreadable_file(tmp_path):
    write_track(tmp_path / "train" / "song")
    (tmp_path / "train" / "song" / "vocals.wav").write_bytes(b"RIFF not really a wav")
    with pytest.raises(DataError, match=r"song/vocals.wav: cannot read audio header"):
        StemsFolder(tmp_path).tracks("train")


def test_channel_mismatch_and_no_stems(tmp_path):
    write_track(tmp_path / "train" / "song")
    sf.write(tmp_path / "train" / "song" / "vocals.wav", np.zeros((1000, 1), np.float32), 22050)
    with pytest.raises(DataError, match="vocals.wav: 1 channels, but the other files have 2"):
        StemsFolder(tmp_path).tracks("train")
    write_track(tmp_path / "test" / "only-mix", stems=("mixture",))
    with pytest.raises(DataError, match="only-mix: no stem files"):
        StemsFolder(tmp_path).tracks("test")


def test_truncated_file_met_while_reading(tmp_path):
    write_track(tmp_path / "train" / "song", length=5000)
    track = StemsFolder(tmp_path).tracks("train")[0]
    path = tmp_path / "train" / "song" / "vocals.wav"
    path.write_bytes(path.read_bytes()[:2000])  # cut after the header was read
    with pytest.raises(DataError, match=r"vocals.wav: (truncated|cannot read)"):
        track.read_stems(0, 5000)
