"""Lyrics transcription from CTC log-probabilities: greedy and prefix beam-search decoding, word
timings from the decoded path, and the character and word error rates (jiwer)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from gansep.extras import require


def greedy_path(log_probs: torch.Tensor | np.ndarray) -> np.ndarray:
    """The most probable class of every frame ``(frames,)`` of ``(frames, classes)``."""
    return np.asarray(torch.as_tensor(log_probs).argmax(-1))


def collapse(path) -> list[int]:
    """A CTC path to its labels: repeats merged, then blanks (0) removed."""
    labels, previous = [], None
    for index in map(int, path):
        if index != previous and index != 0:
            labels.append(index)
        previous = index
    return labels


def greedy_decode(log_probs) -> list[int]:
    """Best-path decoding: the labels of the most probable frame-by-frame path."""
    return collapse(greedy_path(log_probs))


def beam_search_decode(log_probs, beam: int = 16) -> list[int]:
    """CTC prefix beam search without a language model: the labelling (not the path) of
    highest probability among the ``beam`` best prefixes kept at each frame, the probability
    of a prefix summed over every path that collapses to it (blank- and label-ending kept
    apart, so repeats are merged only when no blank separates them)."""
    lp = np.asarray(torch.as_tensor(log_probs, dtype=torch.float64))
    frames, classes = lp.shape
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, -math.inf)}  # (blank, non-blank)
    for t in range(frames):
        # Classes that could matter this frame: the beam's best candidates.
        candidates = [c for c in np.argsort(lp[t])[::-1][: beam + 1] if c != 0]
        following: dict[tuple, list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (blank, label) in beams.items():
            total = np.logaddexp(blank, label)
            entry = following[prefix]
            entry[0] = np.logaddexp(entry[0], total + lp[t, 0])
            if prefix:
                # The last label again, with no blank between: the same prefix.
                entry[1] = np.logaddexp(entry[1], label + lp[t, prefix[-1]])
            for c in candidates:
                extended = following[prefix + (int(c),)]
                # After its own repeat a label extends only from a blank-ending prefix.
                source = blank if prefix and prefix[-1] == c else total
                extended[1] = np.logaddexp(extended[1], source + lp[t, c])
        ranked = sorted(following.items(), key=lambda item: -np.logaddexp(*item[1]))
        beams = {prefix: (b, n) for prefix, (b, n) in ranked[:beam]}
    return list(max(beams.items(), key=lambda item: np.logaddexp(*item[1]))[0])


def word_times(path, frame_times, vocabulary) -> list[tuple[str, float, float]]:
    """``(word, start, end)`` of every word of a decoded frame ``path``: a word starts at the
    first frame of its first character and ends after the last frame of its last character
    (``frame_times`` in seconds; a frame lasts until the next one)."""
    times = [float(t) for t in frame_times]
    step = times[1] - times[0] if len(times) > 1 else 0.0
    words, current, start, end, previous = [], "", None, None, None
    space = vocabulary.index[" "]
    for frame, index in enumerate(map(int, path)):
        if index == previous or index == 0:
            if index != 0 and index != space and current:
                end = times[frame] + step
            previous = index
            continue
        previous = index
        if index == space:
            if current:
                words.append((current, start, end))
            current, start = "", None
            continue
        if not current:
            start = times[frame]
        current += vocabulary.characters[index - 1]
        end = times[frame] + step
    if current:
        words.append((current, start, end))
    return words


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Character and word error rates (jiwer) over all pairs together: edits / reference
    length, each text normalised by the caller (see `Vocabulary.normalise`)."""
    jiwer = require("lyrics")

    pairs = [(r, h) for r, h in zip(references, hypotheses) if r.strip()]
    if not pairs:
        return {"CER": math.nan, "WER": math.nan}
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"CER": float(jiwer.cer(refs, hyps)), "WER": float(jiwer.wer(refs, hyps))}


def line_transcripts(log_probs, times, lines, vocabulary) -> list[tuple[str, str]]:
    """``(reference, hypothesis)`` for every annotated line of a whole track: the normalised
    line text, and the greedy decoding of the frames whose time lies within the line."""
    times = torch.as_tensor(times)
    pairs = []
    for line in lines:
        inside = (times >= line.start) & (times <= line.end)
        hypothesis = vocabulary.decode(greedy_decode(torch.as_tensor(log_probs)[inside]))
        pairs.append((vocabulary.normalise(line.text), " ".join(hypothesis.split())))
    return pairs


def segment_transcripts(log_probs, segments, vocabulary) -> list[tuple[str, str]]:
    """``(reference, greedy transcript)`` of every sung CTC segment of a batch's
    ``(batch, frames, classes)`` log-probabilities (`gansep.losses.lyrics`)."""
    return [(vocabulary.decode(s.target),
             vocabulary.decode(greedy_decode(log_probs[s.example, s.first:s.stop].detach()
                                             .cpu())))
            for s in segments if s.target]


def error_counts(pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Edit counts behind CER and WER (jiwer), summable over tracks: ``char_edits``,
    ``chars``, ``word_edits``, ``words``, ``lines`` (lines with an empty reference are
    skipped)."""
    jiwer = require("lyrics")

    pairs = [(r, h) for r, h in pairs if r.strip()]
    counts = {"char_edits": 0, "chars": 0, "word_edits": 0, "words": 0, "lines": len(pairs)}
    if not pairs:
        return counts
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    for kind, result in (("char", jiwer.process_characters(refs, hyps)),
                         ("word", jiwer.process_words(refs, hyps))):
        counts[f"{kind}_edits"] = result.substitutions + result.deletions + result.insertions
        counts[f"{kind}s"] = result.substitutions + result.deletions + result.hits
    return counts


COUNTS = ("char_edits", "chars", "word_edits", "words", "lines")


def add_counts(total: dict, counts: dict) -> dict:
    """Adds one track's `error_counts` to ``total`` (in place) and returns it."""
    for key in COUNTS:
        total[key] = total.get(key, 0) + int(counts[key])
    return total


def rates(counts: dict[str, int]) -> dict[str, float]:
    """CER and WER of summed `error_counts`."""
    return {"CER": counts["char_edits"] / counts["chars"] if counts["chars"] else math.nan,
            "WER": counts["word_edits"] / counts["words"] if counts["words"] else math.nan}
