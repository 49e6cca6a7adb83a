"""DALI v1/v2 annotations (Meseguer-Brocal, Cohen-Hadria & Peeters, ISMIR 2018) at line level,
with the audio supplied by the user (DALI distributes links, not audio).

DALI's files are gzipped pickles of its ``DALI.Annotations.Annotations`` objects (or, written by
``Annotations.write_json``, JSON with the same ``info`` and ``annotations``). gansep reads the
pickles without the DALI package and without running code: the unpickler admits only that one
class (rebuilt as a plain record) and the plain data types; anything else in the file is
refused, naming the file. Both annotation layouts are read: ``horizontal`` (``annot['lines']``,
each ``{'text', 'time': [start, end]}``) and ``vertical`` (``annot['hierarchical']``:
paragraphs of lines of words of notes, a word's text being its notes' syllables).
"""

from __future__ import annotations

import gzip
import json
import logging
import pickle
from pathlib import Path

from gansep.data.audio import AUDIO_EXTENSIONS, DataError
from gansep.data.jamendo import SongTrack
from gansep.data.lyrics import LyricLine
from gansep.data.tracks import TrackCollection

log = logging.getLogger(__name__)


class DaliRecord:
    """Stands in for ``DALI.Annotations.Annotations``: only its attributes are kept."""


class _AnnotationsUnpickler(pickle.Unpickler):
    ALLOWED = {("DALI.Annotations", "Annotations"): DaliRecord,
               ("copyreg", "_reconstructor"): None, ("builtins", "object"): object}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a DALI annotation")
        if (module, name) == ("copyreg", "_reconstructor"):
            import copyreg

            return copyreg._reconstructor  # builds object.__new__(DaliRecord), nothing else
        return self.ALLOWED[module, name]


def read_dali(path: str | Path) -> tuple[dict, list[LyricLine]]:
    """``(info, lines)`` of a DALI annotation file (``.gz`` pickle or ``.json``); DataError
    naming the file for anything unreadable or not a DALI annotation."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            info, annotations = data["info"], data["annotations"]
        else:
            with gzip.open(path, "rb") as file:
                record = _AnnotationsUnpickler(file).load()
            if not isinstance(record, DaliRecord):
                raise DataError(f"{path}: not a DALI annotation (holds a "
                                f"{type(record).__name__})")
            info, annotations = record.info, record.annotations
        return info, _lines(annotations)
    except DataError:
        raise
    except pickle.UnpicklingError as error:
        raise DataError(f"{path}: refused: {error} (gansep never unpickles code)") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
            UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable DALI annotation ({type(error).__name__}: "
                        f"{error})") from None


def _text(item) -> str:
    text = item["text"]
    if isinstance(text, str):
        return text
    # vertical layout: a line's text is its words, a word's text its notes' syllables
    return " ".join("".join(note["text"] for note in word["text"]) for word in text)


def _lines(annotations: dict) -> list[LyricLine]:
    annot = annotations["annot"]
    if annotations.get("type") == "vertical":
        items = [line for paragraph in annot["hierarchical"] for line in paragraph["text"]]
    else:
        items = annot["lines"]
    lines = []
    for item in items:
        start, end = (float(t) for t in item["time"])
        if not 0 <= start <= end:
            raise ValueError(f"line time {item['time']!r} is not [start, end] seconds")
        lines.append(LyricLine(start, end, _text(item)))
    return sorted(lines, key=lambda line: line.start)


class DALI(TrackCollection):
    """DALI songs whose audio the user has: ``annotations/<id>.gz`` (or ``.json``) and
    ``audio/<id>.<ext>``; songs without audio are skipped, with their count logged.

    Args:
        annotations: the folder of DALI annotation files.
        audio: the folder of the songs' audio, named by DALI id.
        split: the split the songs belong to (the others are empty).
    """

    def __init__(self, annotations: str | Path, audio: str | Path, split: str = "train"):
        self.check_split(split)
        self.annotations, self.audio, self.split = Path(annotations), Path(audio), split

    def identity(self) -> dict:
        return {**super().identity(), "annotations": str(self.annotations.resolve()),
                "audio": str(self.audio.resolve()), "split": self.split}

    def tracks(self, split: str) -> list:
        self.check_split(split)
        if split != self.split:
            return []
        for folder in (self.annotations, self.audio):
            if not folder.is_dir():
                raise DataError(f"{folder}: not a folder")
        audio = {p.stem: p for p in self.audio.iterdir()
                 if p.suffix.lower() in AUDIO_EXTENSIONS + (".mp3",)}
        tracks, missing = [], 0
        for path in sorted(self.annotations.iterdir()):
            if path.suffix not in (".gz", ".json"):
                continue
            song = path.name.split(".")[0]
            if song not in audio:
                missing += 1
                continue
            _, lines = read_dali(path)
            tracks.append(SongTrack(song, audio[song], lines))
        if missing:
            log.warning("%s: %d annotated song(s) without audio in %s skipped", self.annotations,
                        missing, self.audio)
        if not tracks:
            raise DataError(f"{self.annotations}: no annotated song has audio in {self.audio}")
        return tracks
