"""Lyrics transcription from CTC log-probabilities: greedy and prefix beam-search decoding, word
timings from the decoded path, and the character and word error rates (jiwer)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from gansep.extras import require
from gansep.models.generator import has_frames


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


def transcribe(separator, waveform, sample_rate: int, beam: int = 0,
               batch_size: int = 1) -> dict:
    """The lyrics an exported separator's lyrics head hears in ``waveform`` (``(channels,
    time)`` or ``(time,)``, any rate; [`gansep.export.ExportedSeparator.frames`][]):
    ``{"text", "words": [(word, start, end)...], "log_probs" (frames, classes), "times"
    (frames,)}``; greedy decoding, or prefix beam search with ``beam`` > 0. ValueError for a
    separator without a lyrics head."""
    log_probs, times = separator.frames(waveform, sample_rate, batch_size)
    vocabulary = getattr(separator.generator, "vocabulary", None)
    if vocabulary is None:
        raise ValueError("this separator's head has no character vocabulary: not a lyrics "
                         "head")
    path = greedy_path(log_probs)
    labels = beam_search_decode(log_probs, beam) if beam > 0 else collapse(path)
    text = vocabulary.decode(labels)
    return {"text": " ".join(text.split()), "words": word_times(path, times, vocabulary),
            "log_probs": log_probs, "times": times}


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


class LyricsErrors:
    """The evaluation task of a lyrics head ([`gansep.eval.tasks`][]): on tracks with
    annotated lines, the edit counts, CER and WER of greedy CTC decoding of each line that
    ends within the scored span (``gansep_lyrics`` in the track's result)."""

    key = "gansep_lyrics"

    def applies(self, generator) -> bool:
        return has_frames(generator) and hasattr(generator, "vocabulary")

    def wants(self, track) -> bool:
        return getattr(track, "lines", None) is not None

    def score(self, generator, track, frames, times, seconds: float) -> dict:
        lines = [line for line in track.lines if line.end <= seconds]
        counts = error_counts(line_transcripts(frames, times, lines, generator.vocabulary))
        return {**counts, **{k: None if v != v else v  # NaN: no JSON value
                             for k, v in rates(counts).items()}}

    def summary(self, entries: list[dict]) -> str:
        """CER and WER over every annotated line of the tracks (edit counts summed)."""
        totals: dict[str, int] = {}
        for entry in entries:
            add_counts(totals, entry)
        if not entries:
            return ""
        values = rates(totals)
        return (f"\nLyrics head (greedy CTC decoding of each annotated line): CER "
                f"{100 * values['CER']:.1f} %, WER {100 * values['WER']:.1f} % over "
                f"{totals['lines']} lines of {len(entries)} track(s)\n")


def rates(counts: dict[str, int]) -> dict[str, float]:
    """CER and WER of summed `error_counts`."""
    return {"CER": counts["char_edits"] / counts["chars"] if counts["chars"] else math.nan,
            "WER": counts["word_edits"] / counts["words"] if counts["words"] else math.nan}
