import numpy as np

from gansep.data.folder import StemsFolder
from gansep.data.toy import make_toy_track


def test_deterministic_and_seed_dependent():
    a, b = make_toy_track((3, 0, 1), duration=2.0), make_toy_track((3, 0, 1), duration=2.0)
    c = make_toy_track((4, 0, 1), duration=2.0)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.allclose(a["vocals"], c["vocals"])


def test_mixture_is_sum_of_stems_and_stereo():
    track = make_toy_track(0, duration=3.0)
    assert set(track) == {"vocals", "drums", "bass", "other", "mixture"}
    for audio in track.values():
        assert audio.shape == (2, 3 * 22050) and audio.dtype == np.float32
    stems = np.sum([track[n] for n in ("vocals", "drums", "bass", "other")], axis=0,
                   dtype=np.float32)
    np.testing.assert_array_equal(track["mixture"], stems)
    assert np.abs(track["mixture"]).max() <= 0.9 + 1e-6


def test_vocals_have_silent_gaps_and_every_stem_sounds():
    track = make_toy_track(5, duration=10.0)
    frames = track["vocals"][0, : 10 * 22050].reshape(-1, 2205)  # 100 ms frames
    energy = (frames**2).mean(axis=1)
    assert (energy == 0).mean() > 0.05, "vocals need silent gaps"
    assert (energy > 0).mean() > 0.3, "vocals must mostly sing"
    for name in ("drums", "bass", "other"):
        assert np.sqrt((track[name] ** 2).mean()) > 0.01, name


def test_written_dataset_reads_back(toy_root):
    collection = StemsFolder(toy_root, sample_rate=22050)
    tracks = collection.tracks("train")
    assert len(tracks) == 3
    track = tracks[0]
    assert sorted(track.stems) == ["bass", "drums", "other", "vocals"]
    assert (track.channels, track.num_frames) == (2, 3 * 22050)
    stems = track.read_stems(1000, 3000)
    np.testing.assert_allclose(sum(stems.values()), track.read_mixture(1000, 3000), atol=1e-6)
