"""The generated sung-lyrics data: exact timings by construction, seeded, the stems layout."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gansep.data import StemsFolder
from gansep.data.audio import read_audio
from gansep.data.lyrics import read_lines, read_words

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason=(
    "espeak-ng is not installed (make install installs it as root: apt-get install espeak-ng)"))


@pytest.fixture(scope="module")
def sung(tmp_path_factory):
    from gansep.data.sung import make_sung_dataset

    root = tmp_path_factory.mktemp("sung")
    return make_sung_dataset(root / "a", seed=4, sample_rate=11025, duration=8.0,
                             tracks={"train": 1, "test": 1})


def test_words_and_lines_are_exact(sung):
    folder = sung / "train" / "sung-train-000"
    vocals, rate = read_audio(folder / "vocals.wav")
    lines, words = read_lines(folder / "lyrics_lines.csv"), read_words(folder / "lyrics_words.csv")
    assert lines and len(words) == sum(len(line.text.split()) for line in lines)
    assert (folder / "lyrics.txt").read_text().splitlines() == [line.text for line in lines]
    # Each line spans its words; its last word carries line_end.
    position = 0
    for line in lines:
        count = len(line.text.split())
        line_words = words[position:position + count]
        position += count
        assert line_words[0].start == pytest.approx(line.start, abs=1e-4)
        assert line_words[-1].end == pytest.approx(line.end, abs=1e-4)
        assert line_words[-1].line_end == pytest.approx(line.end, abs=1e-4)
        assert all(w.line_end is None for w in line_words[:-1])
    # Only words and the breath before each line sound: everything else is exactly silent,
    # and each word sounds at its first sample.
    sounding = np.zeros(vocals.shape[-1], dtype=bool)
    for word in words:
        start, stop = round(word.start * rate), round(word.end * rate)
        sounding[start:stop] = True
        assert np.abs(vocals[:, start]).max() > 0
    for line in lines:
        sounding[int((line.start - 0.4) * rate):round(line.start * rate)] = True  # breath
    assert np.abs(vocals[:, ~sounding]).max() == 0
    assert np.abs(vocals[:, sounding]).max() > 0.01


def test_stems_layout_with_lyrics(sung):
    tracks = StemsFolder(sung).tracks("test")
    assert tracks[0].stems == ["bass", "drums", "other", "vocals"]
    assert tracks[0].lines == read_lines(sung / "test" / "sung-test-000" / "lyrics_lines.csv")
    mixture, _ = read_audio(sung / "test" / "sung-test-000" / "mixture.wav")
    stems = sum(read_audio(sung / "test" / "sung-test-000" / f"{s}.wav")[0]
                for s in ("bass", "drums", "other", "vocals"))
    np.testing.assert_allclose(mixture, stems, atol=1e-6)


def test_seeded(sung, tmp_path):
    from gansep.data.sung import make_sung_dataset

    again = make_sung_dataset(tmp_path, seed=4, sample_rate=11025, duration=8.0,
                              tracks={"train": 1})
    for name in ("vocals.wav", "mixture.wav", "lyrics_lines.csv", "lyrics_words.csv"):
        a = sung / "train" / "sung-train-000" / name
        b = again / "train" / "sung-train-000" / name
        if name.endswith(".wav"):
            np.testing.assert_array_equal(read_audio(a)[0], read_audio(b)[0])
        else:
            assert a.read_text() == b.read_text()
