"""Vocabularies, normalisation and JamendoLyrics annotations."""

from __future__ import annotations

import pytest

from gansep.data.audio import DataError
from gansep.data.lyrics import (LyricLine, Vocabulary, jamendo_songs, lines_within, read_lines,
                                read_words, write_lines)
from gansep.errors import ConfigError
from tests.conftest import SHARED_DATA

JAMENDO = SHARED_DATA / "jamendolyrics-sample"


@pytest.mark.parametrize("name,size", [("english", 29), ("french", 45), ("german", 33),
                                       ("spanish", 36), ("international", 53)])
def test_shipped_vocabularies(name, size):
    vocabulary = Vocabulary(name)
    assert len(vocabulary) == size  # characters + the blank
    assert vocabulary.characters[0] == " " and vocabulary.index[" "] == 1
    assert vocabulary.decode(vocabulary.encode("a b'")) == "a b'"


@pytest.mark.skipif(not JAMENDO.is_dir(), reason="../shared/data/jamendolyrics-sample is "
                    "absent (a clone without the team's shared folder)")
def test_reads_jamendolyrics_vocabulary_files():
    vocabulary = Vocabulary(str(JAMENDO / "vocab" / "international.characters"))
    assert vocabulary.characters[:3] == [" ", "a", "b"]
    assert "œ" in vocabulary.index and "ñ" in vocabulary.index


def test_bad_vocabulary_files(tmp_path):
    (tmp_path / "no-space.characters").write_text("# comment\na\nb\n")
    with pytest.raises(ConfigError, match="first character must be the space"):
        Vocabulary(str(tmp_path / "no-space.characters"))
    (tmp_path / "twice.characters").write_text(" \na\na\n")
    with pytest.raises(ConfigError, match="line 3: 'a' is listed twice"):
        Vocabulary(str(tmp_path / "twice.characters"))
    (tmp_path / "long.characters").write_text(" \nab\n")
    with pytest.raises(ConfigError, match="line 2: 'ab' is not one character"):
        Vocabulary(str(tmp_path / "long.characters"))
    with pytest.raises(ConfigError, match="vocabulary 'klingon'.*shipped: english"):
        Vocabulary("klingon")


@pytest.mark.parametrize("vocabulary,text,expected", [
    ("english", "Hello,  World!", "hello world"),                     # case, punctuation
    ("english", "d’filtres  c`est", "d'filtres c'est"),                # apostrophes
    ("english", "rock-n-roll/jazz_pop", "rock n roll jazz pop"),       # separators
    ("english", "Même café", "meme cafe"),                            # accents stripped
    ("french", "Même café", "même café"),                             # ...unless in the vocab
    ("english", "Œuvre Straße", "oeuvre strasse"),                   # spelled
    ("german", "Straße", "straße"),
    ("english", "Track 42 ♪ 你好", "track"),                            # dropped
    ("spanish", "¿Qué?", "qué"),
])
def test_normalisation_rules(vocabulary, text, expected):
    assert Vocabulary(vocabulary).normalise(text) == expected


def test_lines_within_a_window_keep_only_whole_lines():
    lines = [LyricLine(0.5, 1.5, "cut at the start"), LyricLine(2.0, 3.0, "inside"),
             LyricLine(3.0, 4.0, "also inside"), LyricLine(4.5, 6.0, "cut at the end")]
    assert lines_within(lines, 1.0, 5.0) == [LyricLine(1.0, 2.0, "inside"),
                                             LyricLine(2.0, 3.0, "also inside")]
    assert lines_within(lines, 6.5, 8.0) == []


def test_annotation_files_round_trip_and_errors(tmp_path):
    lines = [LyricLine(1.25, 2.5, "first line"), LyricLine(3.0, 4.0, "second, with a comma")]
    write_lines(tmp_path / "lines.csv", lines)
    assert read_lines(tmp_path / "lines.csv") == lines
    (tmp_path / "bad.csv").write_text("start_time,end_time,lyrics_line\n1.0,0.5,x\n")
    with pytest.raises(DataError, match="bad.csv, row 2: end_time 0.5 is before start_time 1.0"):
        read_lines(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("start_time,end_time,lyrics_line\nabc,1,x\n")
    with pytest.raises(DataError, match="row 2: start_time 'abc' is not a time"):
        read_lines(tmp_path / "nan.csv")
    (tmp_path / "cols.csv").write_text("start,end\n1,2\n")
    with pytest.raises(DataError, match="no column\\(s\\) start_time, end_time, lyrics_line"):
        read_lines(tmp_path / "cols.csv")


@pytest.mark.skipif(not JAMENDO.is_dir(), reason="../shared/data/jamendolyrics-sample is "
                    "absent (a clone without the team's shared folder)")
def test_real_jamendolyrics_songs():
    songs = {s.name: s for s in jamendo_songs(JAMENDO)}
    assert set(songs) == {"Fantasma_-_Los_Rombos", "de_bonne_humeur_-_Le_Nez_Tordu"}
    fantasma = songs["Fantasma_-_Los_Rombos"]
    assert fantasma.language == "Spanish" and len(fantasma.lines) == 17
    assert len(fantasma.words) == 88
    assert fantasma.lines[0].text == "soy un fantasma que"
    assert fantasma.lines[0].start == pytest.approx(17.632653061)
    # Every line's end is the line_end of a word, and words per line agree with the text.
    ends = [w.line_end for w in fantasma.words if w.line_end is not None]
    assert ends == pytest.approx([line.end for line in fantasma.lines])
    assert sum(len(line.text.split()) for line in fantasma.lines) == len(fantasma.words)
    assert [s.name for s in jamendo_songs(JAMENDO, "french")] == [
        "de_bonne_humeur_-_Le_Nez_Tordu"]
    words = read_words(JAMENDO / "annotations" / "words" / "Fantasma_-_Los_Rombos.csv")
    assert words[0].line_end is None and words[0].start == pytest.approx(17.632653061)


def _dali_module():
    """A stand-in for the DALI package's Annotations class, to write files as DALI does."""
    import sys
    import types

    module = sys.modules.get("DALI.Annotations") or types.ModuleType("DALI.Annotations")

    class Annotations:
        def __init__(self):
            self.info = {"id": "abc", "artist": "x", "title": "y"}
            self.annotations = {"type": "horizontal", "annot": {}, "annot_param": {}}
            self.errors = None

    Annotations.__module__, Annotations.__qualname__ = "DALI.Annotations", "Annotations"
    module.Annotations = Annotations
    sys.modules.setdefault("DALI", types.ModuleType("DALI"))
    sys.modules["DALI.Annotations"] = module
    return Annotations


def test_dali_annotations_horizontal_vertical_and_refusals(tmp_path):
    import gzip
    import json
    import pickle

    from gansep.data.dali import read_dali

    annotations = _dali_module()()
    annotations.annotations["annot"] = {"lines": [
        {"text": "second line", "time": [5.0, 7.5], "freq": [1, 2], "index": 1},
        {"text": "first line", "time": [1.0, 3.0], "freq": [1, 2], "index": 0}]}
    with gzip.open(tmp_path / "abc.gz", "wb") as file:
        pickle.dump(annotations, file, protocol=2)
    info, lines = read_dali(tmp_path / "abc.gz")
    assert info["id"] == "abc"
    assert lines == [LyricLine(1.0, 3.0, "first line"), LyricLine(5.0, 7.5, "second line")]

    def note(syllable):
        return {"text": syllable, "time": [0, 0], "freq": [0, 0], "index": 0}

    vertical = {"info": {"id": "v"}, "annotations": {"type": "vertical", "annot": {
        "hierarchical": [{"text": [{"text": [{"text": [note("hel"), note("lo")]},
                                             {"text": [note("you")]}],
                                    "time": [2.0, 3.5]}], "time": [2.0, 3.5]}]}}}
    (tmp_path / "v.json").write_text(json.dumps(vertical))
    assert read_dali(tmp_path / "v.json")[1] == [LyricLine(2.0, 3.5, "hello you")]

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, ("touch " + str(tmp_path / "RAN"),))

    with gzip.open(tmp_path / "evil.gz", "wb") as file:
        pickle.dump(Payload(), file)
    with pytest.raises(DataError, match="evil.gz: refused: .*never unpickles code"):
        read_dali(tmp_path / "evil.gz")
    assert not (tmp_path / "RAN").exists()
    (tmp_path / "text.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="text.gz: not a readable DALI annotation"):
        read_dali(tmp_path / "text.gz")


def test_dali_collection_pairs_annotations_with_the_users_audio(tmp_path):
    import gzip
    import pickle

    import numpy as np

    from gansep.data.audio import write_audio
    from gansep.data.dali import DALI

    annotations = _dali_module()()
    annotations.annotations["annot"] = {"lines": [{"text": "a line", "time": [0.5, 1.0]}]}
    (tmp_path / "annot").mkdir()
    for song in ("has-audio", "no-audio"):
        with gzip.open(tmp_path / "annot" / f"{song}.gz", "wb") as file:
            pickle.dump(annotations, file)
    write_audio(tmp_path / "audio" / "has-audio.wav", np.zeros((1, 8000), np.float32), 8000)
    tracks = DALI(tmp_path / "annot", tmp_path / "audio").tracks("train")
    assert [t.name for t in tracks] == ["has-audio"]
    assert tracks[0].lines == [LyricLine(0.5, 1.0, "a line")] and not tracks[0].has_stems
    assert DALI(tmp_path / "annot", tmp_path / "audio").tracks("test") == []
