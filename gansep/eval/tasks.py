"""What evaluation does with the frames of a generator's auxiliary head (see
[`gansep.models.generator.has_frames`][]): each task says whether it applies to a generator
and a track, what it stores in the track's result (under its ``key``) and what the summary
table adds. [`gansep.eval.evaluate`][] runs every task that applies, without knowing any.

A task is an object with ``key``, ``applies(generator)``, ``wants(track)``,
``score(generator, track, frames, times, seconds) -> dict`` (JSON data) and
``summary(entries) -> str`` (Markdown from the stored entries of every scored track).
"""

from __future__ import annotations

from gansep.eval.transcribe import LyricsErrors


def frame_tasks() -> list:
    """The tasks evaluation knows: the lyrics head's character and word error rates."""
    return [LyricsErrors()]
