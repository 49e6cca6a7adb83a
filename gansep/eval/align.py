"""Lyrics-to-audio alignment on a lyrics head's CTC log-posteriors (Stoller, Durand & Ewert,
ICASSP 2019): the lyrics' characters are force-aligned to the frames by Viterbi search over the
CTC topology, and each word takes the frames of its characters.

The topology interleaves the ``L`` characters with blanks (``2L + 1`` states). A path starts in
the first blank or the first character and ends in the last character or the blank after it;
at each frame it stays, moves one state on, or skips a blank between two different characters
(two equal characters in a row need a blank between them). Instrumental stretches and
non-lexical singing fall to the blanks between characters, so nothing in the lyrics has to
account for them.

Memory stays bounded for whole songs: the forward pass keeps the path scores of every
``block``-th frame only; the trace-back recomputes one block at a time, keeping that block's
back-pointers (one byte per state and frame). A 5-minute song (6500 frames at 21.5 frames/s,
3000 characters) needs about 6 MB instead of 39 MB with the default block of 512 frames, for
twice the forward arithmetic.

A head frame's time (`gansep.models.LyricsWaveUNet.frame_times`) is the position of its
sample in the Wave-U-Net's decimated signal, the centre of what it hears; it stands for half a
frame period either side. A word starts where the first frame of its first character starts
and ends where the last frame of its last character ends. A word whose characters all fall outside the vocabulary (once normalised by
`gansep.data.lyrics.Vocabulary.normalise`) gets no frames: it is placed, with no
duration, where the previous word ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gansep.data.audio import DataError, read_checked
from gansep.data.lyrics import LyricLine, LyricWord, Vocabulary, write_lines, write_words

BLOCK = 512


class AlignmentError(DataError):
    """Lyrics that cannot be aligned to the audio (too many characters for its frames, no
    lyrics at all); the message says why."""


def lyrics_lines(text: str) -> list[list[str]]:
    """The words of each non-empty line of a lyrics text (JamendoLyrics' ``lyrics/*.txt``: one
    sung line per line, blank lines between paragraphs); a word is a whitespace-separated
    token, as in the dataset's word annotations."""
    return [line.split() for line in text.splitlines() if line.split()]


@dataclass(frozen=True)
class Tokens:
    """The character labels of some lyrics and, for each, the index of its word (-1 for the
    spaces between words)."""

    labels: np.ndarray
    word_of: np.ndarray
    words: int


def tokenise(lines: list[list[str]], vocabulary: Vocabulary) -> Tokens:
    """Labels of the lyrics' words, normalised onto ``vocabulary``, a space between words (and
    between lines)."""
    space = vocabulary.index[" "]
    labels: list[int] = []
    word_of: list[int] = []
    index = 0
    for line in lines:
        for word in line:
            characters = vocabulary.encode(word)
            if characters and labels:
                labels.append(space)
                word_of.append(-1)
            labels += characters
            word_of += [index] * len(characters)
            index += 1
    return Tokens(np.asarray(labels, dtype=np.int64), np.asarray(word_of, dtype=np.int64),
                  index)


def _topology(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each state's class (blanks at even states) and whether it may be entered from two
    states back (a character after a blank, unequal to the character before that blank)."""
    states = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    states[1::2] = labels
    skip = np.zeros(len(states), dtype=bool)
    skip[3::2] = labels[1:] != labels[:-1]
    return states, skip


def _step(score: np.ndarray, emission: np.ndarray, skip: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """One frame of the Viterbi recursion: the new scores and, per state, how many states
    back its best predecessor lies (0, 1 or 2)."""
    candidates = np.full((3, len(score)), -np.inf)
    candidates[0] = score
    candidates[1, 1:] = score[:-1]
    candidates[2, 2:] = np.where(skip[2:], score[:-2], -np.inf)
    back = candidates.argmax(0)  # ties keep the state (0 first)
    best = np.take_along_axis(candidates, back[None], 0)[0]
    return best + emission, back.astype(np.int8)


def minimum_frames(labels) -> int:
    """Frames a CTC path over ``labels`` needs: one per character, plus a blank between two
    equal characters in a row."""
    labels = np.asarray(labels)
    return len(labels) + int((labels[1:] == labels[:-1]).sum()) if len(labels) else 0


def ctc_viterbi(log_probs, labels, block: int = BLOCK) -> np.ndarray:
    """The most probable CTC path of ``labels`` through ``log_probs`` ``(frames, classes)``
    (class 0 the blank): the state of every frame, ``2k + 1`` for the k-th character and
    ``2k`` for the blank before it (see the module docstring). AlignmentError when the frames
    are too few for the labels."""
    lp = np.asarray(torch.as_tensor(log_probs, dtype=torch.float64))
    labels = np.asarray(labels, dtype=np.int64)
    frames = lp.shape[0]
    needed = minimum_frames(labels)
    if frames < max(needed, 1):
        raise AlignmentError(f"{len(labels)} characters need at least {max(needed, 1)} frames "
                             f"of the lyrics head, the audio has {frames}")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    states, skip = _topology(labels)
    first = np.full(len(states), -np.inf)
    first[: min(2, len(states))] = lp[0, states[:2]]
    # Forward: the scores at the first frame of every block.
    starts = list(range(0, frames, block))
    kept = {0: first}
    score = first
    for t in range(1, frames):
        score, _ = _step(score, lp[t, states], skip)
        if t % block == 0:
            kept[t] = score
    ends = [len(states) - 1] + ([len(states) - 2] if len(states) > 1 else [])
    state = max(ends, key=lambda s: score[s])
    if not np.isfinite(score[state]):
        raise AlignmentError(f"no CTC path of {len(labels)} characters through {frames} "
                             "frames (non-finite log-probabilities?)")
    # Backward, one block at a time: recompute the back-pointers of frames start+1 .. stop
    # (stop: the next block's first frame, whose state is known by then), then trace.
    path = np.empty(frames, dtype=np.int64)
    path[-1] = state
    for start in reversed(starts):
        stop = min(start + block, frames - 1)
        backs = np.empty((stop - start, len(states)), dtype=np.int8)
        score = kept[start]
        for t in range(start + 1, stop + 1):
            score, backs[t - start - 1] = _step(score, lp[t, states], skip)
        for t in range(stop, start, -1):
            state -= int(backs[t - start - 1, state])
            path[t - 1] = state
    return path


@dataclass(frozen=True)
class AlignedLyrics:
    """Word and line timings of aligned lyrics (JamendoLyrics' annotation formats)."""

    words: list[LyricWord]
    lines: list[LyricLine]


def word_spans(path: np.ndarray, tokens: Tokens, times: np.ndarray
               ) -> list[tuple[float, float] | None]:
    """``(start, end)`` seconds of every word on a state path (None: a word without
    characters in the vocabulary)."""
    times = np.asarray(times, dtype=np.float64)
    step = float(times[1] - times[0]) if len(times) > 1 else 0.0
    spans: list[tuple[float, float] | None] = [None] * tokens.words
    characters = path % 2 == 1
    frames = np.nonzero(characters)[0]
    owners = tokens.word_of[(path[frames] - 1) // 2]
    for frame, word in zip(frames, owners):
        if word < 0:
            continue
        # A head frame's time is the centre of its span: it covers half a period each side.
        low, high = max(times[frame] - step / 2, 0.0), times[frame] + step / 2
        start, end = spans[word] or (low, high)
        spans[word] = (min(start, low), max(end, high))
    return spans


def align(log_probs, times, lines: list[list[str]], vocabulary: Vocabulary,
          block: int = BLOCK) -> AlignedLyrics:
    """Word and line timings of ``lines`` (words per line, as `lyrics_lines` gives) on a
    lyrics head's ``log_probs`` ``(frames, classes)`` at ``times`` (seconds)."""
    tokens = tokenise(lines, vocabulary)
    if tokens.words == 0:
        raise AlignmentError("the lyrics hold no word")
    if len(tokens.labels) == 0:
        raise AlignmentError(f"no character of the lyrics is in the {vocabulary.name} "
                             "vocabulary")
    path = ctc_viterbi(log_probs, tokens.labels, block)
    spans = word_spans(path, tokens, times)
    placed: list[tuple[float, float]] = []
    for span in spans:  # words without characters sit where the previous word ends
        if span is None:
            previous = placed[-1][1] if placed else next(s for s in spans if s)[0]
            span = (previous, previous)
        placed.append(span)
    words, aligned_lines, index = [], [], 0
    for line in lines:
        span = placed[index : index + len(line)]
        index += len(line)
        start, end = span[0][0], max(e for _, e in span)
        aligned_lines.append(LyricLine(start, end, " ".join(line)))
        words += [LyricWord(s, e, end if k == len(span) - 1 else None)
                  for k, (s, e) in enumerate(span)]
    return AlignedLyrics(words, aligned_lines)


def align_audio(separator, waveform, sample_rate: int, lines: list[list[str]],
                batch_size: int = 1, block: int = BLOCK) -> AlignedLyrics:
    """Aligns ``lines`` to audio with an exported multi-task separator
    ([`gansep.export.ExportedSeparator`][] with a lyrics head)."""
    log_probs, times = separator.frames(waveform, sample_rate, batch_size)
    return align(log_probs, times, lines, separator.generator.vocabulary, block)


def read_lyrics(path: Path) -> list[list[str]]:
    """The words of a lyrics text file, line by line (see `lyrics_lines`); DataError
    naming the file when it cannot be read or holds no word."""
    try:
        lines = lyrics_lines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the lyrics ({error})") from None
    if not lines:
        raise DataError(f"{path}: the lyrics hold no word")
    return lines


def align_file(separator, audio_path: Path, lyrics_path: Path, words_out: Path,
               lines_out: Path | None = None, batch_size: int = 1):
    """Aligns one song and writes its word (and line) timings atomically."""
    lines = read_lyrics(lyrics_path)
    audio, rate = read_checked(audio_path, truncated="warn")
    try:
        aligned = align_audio(separator, audio, rate, lines, batch_size)
    except AlignmentError as error:
        raise AlignmentError(f"{audio_path} with {lyrics_path}: {error}") from None
    if lines_out is not None:  # the words file last: its presence marks a finished song
        write_lines(lines_out, aligned.lines)
    write_words(words_out, aligned.words)
    return aligned
