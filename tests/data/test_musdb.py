"""MUSDB18-HQ through musdb.DB, on a folder laid out as MUSDB18-HQ (toy tracks have its stems)."""

import shutil

import numpy as np
import pytest

from gansep.data.audio import DataError
from gansep.data.musdb import MUSDB


@pytest.fixture
def musdb_root(toy_root, tmp_path):
    root = tmp_path / "musdb18hq"
    shutil.copytree(toy_root / "train", root / "train")
    shutil.copytree(toy_root / "test", root / "test")
    return root


def test_musdb_hq_tracks(musdb_root, toy_root):
    db = MUSDB(musdb_root, is_wav=True)
    tracks = db.tracks("test")
    assert [t.name for t in tracks] == ["toy-test-000", "toy-test-001"]
    track = tracks[0]
    assert sorted(track.stems) == ["bass", "drums", "other", "vocals"]
    assert (track.sample_rate, track.num_frames) == (22050, 3 * 22050)
    sources = track.read_sources(["vocals", "accompaniment"], 2205, 4410)
    folder = toy_root / "test" / "toy-test-000"
    import soundfile as sf

    vocals = sf.read(folder / "vocals.wav", dtype="float32")[0].T[:, 2205:4410]
    # musdb reads wav through 16-bit samples: equal to one quantisation step.
    np.testing.assert_allclose(sources[0], vocals, atol=2 ** -14)
    mixture = track.read_mixture(2205, 4410)
    np.testing.assert_allclose(sources.sum(0), mixture, atol=2 ** -12)
    assert len(db.tracks("train")) == 3


def test_musdb_errors(musdb_root, tmp_path):
    with pytest.raises(DataError, match="MUSDB root does not exist"):
        MUSDB(tmp_path / "missing").tracks("test")
    with pytest.raises(DataError, match=r"no MUSDB test tracks found as .stem.mp4 files"):
        MUSDB(musdb_root, is_wav=False).tracks("test")
