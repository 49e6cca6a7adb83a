"""Lyrics as data: character vocabularies, text normalisation, and line/word annotations in
JamendoLyrics' formats (beside a stems folder as ``<track>/lyrics_lines.csv``, or a whole
JamendoLyrics dataset).

Vocabularies are files in JamendoLyrics' ``vocab/*.characters`` format: one character a line,
``#`` starts a comment line, the space comes first. gansep ships ``english`` (the default),
``french``, ``german``, ``spanish`` and ``international`` (their union) in
``gansep/data/vocab/``; any other file of that format can be named by path. CTC index 0 is the
blank, character k of the file is index k + 1.

Normalisation (`Vocabulary.normalise`) maps any text onto a vocabulary, character by
character, by these rules in order:

1. Unicode NFC, then lower case.
2. A character of the vocabulary is kept.
3. Apostrophe-like marks (’ ‘ ` ´ ʼ) become ``'`` when the vocabulary has it.
4. Whitespace, hyphens, dashes, slashes and underscores become a space (they separate words).
5. A letter outside the vocabulary becomes its unaccented form when that is in the vocabulary
   (Unicode NFKD without combining marks: ``é`` -> ``e`` in English), or its usual spelling
   for ligatures and ``ß`` (``œ`` -> ``oe``, ``æ`` -> ``ae``, ``ß`` -> ``ss``).
6. Anything else (punctuation, digits, symbols, other scripts) is dropped; digits are not
   spelled out, so write numbers as words in lyrics meant for training.
7. Runs of spaces become one; leading and trailing spaces go.
"""

from __future__ import annotations

import csv
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gansep.atomic import atomic_target
from gansep.data.audio import DataError
from gansep.errors import ConfigError

VOCAB_FOLDER = Path(__file__).parent / "vocab"
APOSTROPHES = "’‘`´ʼ"
SEPARATORS = "-‐‑‒–—―/_\\"
SPELLED = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"}
LINES_FILE = "lyrics_lines.csv"


class Vocabulary:
    """The characters a lyrics head predicts (plus the CTC blank, index 0).

    Args:
        name: a shipped vocabulary (``english``, ``french``, ``german``, ``spanish``,
            ``international``) or the path of a ``.characters`` file.
    """

    def __init__(self, name: str = "english"):
        path = Path(name)
        if not path.suffix and "/" not in name:
            path = VOCAB_FOLDER / f"{name}.characters"
        if not path.is_file():
            shipped = sorted(p.stem for p in VOCAB_FOLDER.glob("*.characters"))
            raise ConfigError(f"vocabulary {name!r}: no such file {path} (shipped: "
                              f"{', '.join(shipped)}, or the path of a .characters file)")
        self.name, self.path = name, path
        self.characters = read_characters(path)
        self.index = {c: i + 1 for i, c in enumerate(self.characters)}

    def __len__(self) -> int:
        """Output classes: the characters plus the blank."""
        return len(self.characters) + 1

    def normalise(self, text: str) -> str:
        """``text`` mapped onto this vocabulary (rules in the module docstring)."""
        out = []
        for char in unicodedata.normalize("NFC", text).lower():
            out.append(self._map(char))
        return " ".join("".join(out).split())

    def _map(self, char: str) -> str:
        if char in self.index:
            return char
        if char in APOSTROPHES and "'" in self.index:
            return "'"
        if char.isspace() or char in SEPARATORS:
            return " "
        if char in SPELLED and all(c in self.index for c in SPELLED[char]):
            return SPELLED[char]
        base = "".join(c for c in unicodedata.normalize("NFKD", char)
                       if not unicodedata.combining(c))
        if base and base != char and all(c in self.index for c in base):
            return base
        return ""

    def encode(self, text: str) -> list[int]:
        """Indices (1..) of the normalised text's characters."""
        return [self.index[c] for c in self.normalise(text)]

    def decode(self, indices) -> str:
        """Text of indices (the blank, 0, is skipped; no repeats are merged here)."""
        return "".join(self.characters[i - 1] for i in indices if i > 0)


def read_characters(path: Path) -> list[str]:
    """The characters of a ``.characters`` file; ConfigError naming the file and line for a
    malformed one."""
    characters: list[str] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the vocabulary ({error})") from None
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        char = line[0] if line[0] == " " else line.strip()
        if len(char) != 1:
            raise ConfigError(f"{path}, line {number}: {line!r} is not one character")
        if char in characters:
            raise ConfigError(f"{path}, line {number}: {char!r} is listed twice")
        characters.append(char)
    if not characters or characters[0] != " ":
        raise ConfigError(f"{path}: the first character must be the space (JamendoLyrics' "
                          "format)")
    return characters


@lru_cache(maxsize=16)
def vocabulary(name: str = "english") -> Vocabulary:
    """A cached `Vocabulary`."""
    return Vocabulary(name)


# ----------------------------------------------------------------------------- annotations
@dataclass(frozen=True)
class LyricLine:
    """One line of lyrics sung from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class LyricWord:
    """One word: ``start`` and ``end`` in seconds; ``line_end`` ends its line (or None)."""

    start: float
    end: float
    line_end: float | None


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: no column(s) {', '.join(missing)} (expected "
                                f"{','.join(columns)})")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read ({error})") from None


def _seconds(path: Path, row: int, column: str, text: str, optional: bool = False):
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        if optional:
            return None
        raise DataError(f"{path}, row {row}: {column} {text!r} is not a time in seconds")
    if value < 0 or math.isinf(value):
        raise DataError(f"{path}, row {row}: {column} {text!r} is not a time in seconds")
    return value


def read_lines(path: Path) -> list[LyricLine]:
    """Lines from a JamendoLyrics ``annotations/lines`` CSV (``start_time,end_time,
    lyrics_line``); DataError naming the file and row for a bad time or an end before its
    start."""
    path = Path(path)
    lines = []
    for number, row in enumerate(_rows(path, ("start_time", "end_time", "lyrics_line")), 2):
        start = _seconds(path, number, "start_time", row["start_time"])
        end = _seconds(path, number, "end_time", row["end_time"])
        if end < start:
            raise DataError(f"{path}, row {number}: end_time {end} is before start_time "
                            f"{start}")
        lines.append(LyricLine(start, end, row["lyrics_line"] or ""))
    return lines


def read_words(path: Path) -> list[LyricWord]:
    """Words from a JamendoLyrics ``annotations/words`` CSV (``word_start,word_end,
    line_end``; ``line_end`` is NaN except on a line's last word)."""
    path = Path(path)
    words = []
    for number, row in enumerate(_rows(path, ("word_start", "word_end", "line_end")), 2):
        start = _seconds(path, number, "word_start", row["word_start"])
        end = _seconds(path, number, "word_end", row["word_end"])
        words.append(LyricWord(start, end, _seconds(path, number, "line_end", row["line_end"],
                                                    optional=True)))
    return words


def write_lines(path: Path, lines: list[LyricLine]) -> None:
    """Writes lines in the JamendoLyrics lines format (atomically)."""
    with atomic_target(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["start_time", "end_time", "lyrics_line"])
        writer.writerows([[f"{line.start:.6f}", f"{line.end:.6f}", line.text]
                          for line in lines])


def write_words(path: Path, words: list[LyricWord]) -> None:
    """Writes words in the JamendoLyrics words format (atomically)."""
    with atomic_target(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["word_start", "word_end", "line_end"])
        writer.writerows([[f"{w.start:.6f}", f"{w.end:.6f}",
                           "nan" if w.line_end is None else f"{w.line_end:.6f}"]
                          for w in words])


def lines_within(lines: list[LyricLine], start: float, end: float) -> list[LyricLine]:
    """The lines lying entirely inside ``[start, end]`` seconds, shifted to start at 0 there.
    A line cut by either edge is left out (its text cannot be split by time)."""
    return [LyricLine(line.start - start, line.end - start, line.text) for line in lines
            if line.start >= start and line.end <= end]


@dataclass(frozen=True)
class Song:
    """A JamendoLyrics song: its audio, language and annotations."""

    name: str
    audio: Path
    language: str
    lines: list[LyricLine]
    words: list[LyricWord]
    lyrics: Path


LANGUAGE_VOCABULARY = {"English": "english", "French": "french", "German": "german",
                       "Spanish": "spanish"}


def jamendo_songs(root: Path, language: str | None = None) -> list[Song]:
    """The songs of a JamendoLyrics dataset folder (``JamendoLyrics.csv``, ``mp3/``,
    ``annotations/{lines,words}/``, ``lyrics/``), optionally of one language; DataError naming
    the file for a song whose files are missing."""
    root = Path(root)
    index = root / "JamendoLyrics.csv"
    if not index.is_file():
        raise ConfigError(f"{root}: not a JamendoLyrics folder (no JamendoLyrics.csv)")
    songs = []
    for row in _rows(index, ("Filepath", "Language")):
        if language is not None and row["Language"].lower() != language.lower():
            continue
        name = Path(row["Filepath"]).stem
        paths = {"audio": root / "mp3" / row["Filepath"],
                 "lines": root / "annotations" / "lines" / f"{name}.csv",
                 "words": root / "annotations" / "words" / f"{name}.csv",
                 "lyrics": root / "lyrics" / f"{name}.txt"}
        for kind, path in paths.items():
            if not path.is_file():
                raise DataError(f"{path}: missing ({kind} of song {name}, listed in {index})")
        songs.append(Song(name, paths["audio"], row["Language"], read_lines(paths["lines"]),
                          read_words(paths["words"]), paths["lyrics"]))
    if not songs:
        raise ConfigError(f"{index}: no song" + (f" in {language}" if language else ""))
    return songs


WORDS_FILE = "lyrics_words.csv"
LYRICS_FILE = "lyrics.txt"


@dataclass(frozen=True)
class AlignmentSong:
    """A song to align and score: its audio, lyrics text and reference word timings."""

    name: str
    audio: Path
    lyrics: Path
    words: Path


def alignment_songs(root: Path, language: str | None = None) -> list[AlignmentSong]:
    """The songs of a JamendoLyrics folder (``JamendoLyrics.csv``; ``language`` filters it) or
    of a stems folder whose tracks hold ``mixture.wav``, ``lyrics.txt`` and
    ``lyrics_words.csv`` (the generated sung-lyrics data, one split or all of them)."""
    root = Path(root)
    if (root / "JamendoLyrics.csv").is_file():
        return [AlignmentSong(s.name, s.audio, s.lyrics,
                              root / "annotations" / "words" / f"{s.name}.csv")
                for s in jamendo_songs(root, language)]
    if language is not None:
        raise ConfigError(f"{root}: --language needs a JamendoLyrics folder (no "
                          "JamendoLyrics.csv)")
    songs = []
    for words in sorted(root.rglob(WORDS_FILE)):
        folder = words.parent
        for path in (folder / "mixture.wav", folder / LYRICS_FILE):
            if not path.is_file():
                raise DataError(f"{path}: missing (track {folder.name} has {WORDS_FILE})")
        songs.append(AlignmentSong(folder.name, folder / "mixture.wav", folder / LYRICS_FILE,
                                   words))
    if not songs:
        raise ConfigError(f"{root}: no song with word timings (neither a JamendoLyrics folder "
                          f"nor tracks with {WORDS_FILE})")
    names = [song.name for song in songs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{root}: track name(s) {', '.join(twice)} occur in several folders")
    return songs


def reference_words(root: Path) -> dict[str, Path]:
    """``{song: word annotation file}`` of a reference folder: JamendoLyrics'
    ``annotations/words/*.csv``, or the tracks' ``lyrics_words.csv`` of a stems folder."""
    root = Path(root)
    folder = root / "annotations" / "words"
    if folder.is_dir():
        found = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    elif root.is_dir():
        found = {song.name: song.words for song in alignment_songs(root)}
    else:
        raise ConfigError(f"{root}: no such folder")
    if not found:
        raise ConfigError(f"{folder}: no word annotation (*.csv)")
    return found
