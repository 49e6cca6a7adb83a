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


@pytest.mark.slow
def test_musdb_stem_mp4_through_the_cache(toy_root, tmp_path):
    """A MUSDB18-layout stand-in (stem .mp4, AAC, as MUSDB18 ships) decoded once into the
    cache: same stems and length, and the audio musdb's own chunked reads give."""
    import soundfile as sf
    import stempeg

    from gansep.data.cache import CachedCollection

    folder = toy_root / "test" / "toy-test-000"
    stems = [sf.read(folder / f"{name}.wav", dtype="float32")[0]
             for name in ("mixture", "drums", "bass", "other", "vocals")]
    (tmp_path / "musdb18" / "train").mkdir(parents=True)
    stempeg.write_stems(str(tmp_path / "musdb18" / "train" / "standin.stem.mp4"),
                        np.stack(stems), sample_rate=22050,
                        writer=stempeg.StreamsWriter(codec="aac", bitrate=256000))
    direct = MUSDB(tmp_path / "musdb18")
    cache = CachedCollection(direct, tmp_path / "cache", 22050, 2)
    assert cache.key().startswith("musdb-") and direct.decoded
    original, cached = direct.tracks("train")[0], cache.tracks("train")[0]
    assert sorted(cached.stems) == ["bass", "drums", "other", "vocals"]
    assert cached.num_frames == original.num_frames
    a = original.read_sources(["vocals"], 22050, 44100)[0]
    b = cached.read_sources(["vocals"], 22050, 44100)[0]
    # Both decode the same AAC stream; musdb seeks to the chunk, the cache decodes once.
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
