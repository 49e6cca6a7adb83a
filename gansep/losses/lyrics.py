"""The lyrics objective term: CTC (Graves et al., 2006) of the lyrics head's characters against
line-level annotations, within each line's interval (Stoller, Durand & Ewert, ICASSP 2019).

For one training excerpt, with the head's frames placed in time (frame centres, relative to the
output window):

- each line lying entirely inside the output window is a CTC segment: the frames whose time lies
  within the line's interval, the line's characters as the target;
- the frames of the window outside every line (instrumental parts, pauses) form segments with
  an empty target, so the head learns to emit blanks there; an excerpt without any line is one
  such segment, as for instrumental music;
- the frames of a line cut by the window's edge are left out (its text cannot be split by time),
  and the rest of the excerpt still trains.

The term is the summed negative log-likelihood of all segments divided by their frames (a mean
per frame, so its scale does not depend on how much of the batch is sung). A segment whose
target cannot fit its frames (more characters, with repeats, than frames) contributes zero
(``zero_infinity``) and is counted in `Lyrics.infeasible`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gansep.errors import ConfigError


@dataclass(frozen=True)
class Segment:
    """Frames ``[first, stop)`` of example ``example`` and their target character indices."""

    example: int
    first: int
    stop: int
    target: tuple[int, ...]


def ctc_segments(frame_times: torch.Tensor, window: float,
                 lines: Sequence[Sequence[tuple[float, float, Sequence[int]]]]
                 ) -> list[Segment]:
    """The CTC segments of a batch (rules in the module docstring).

    Args:
        frame_times: ``(frames,)`` seconds of every head frame, relative to the output window.
        window: the output window's length in seconds.
        lines: per example, the lines overlapping the window as ``(start, end, indices)`` in
            window seconds (a line starting before 0 or ending after ``window`` is cut); None
            for an example without lyrics annotation (it gets no segment).
    """
    times = frame_times.tolist()
    inside = [k for k, t in enumerate(times) if 0 <= t < window]
    segments = []
    for example, example_lines in enumerate(lines):
        if example_lines is None:
            continue  # no lyrics annotation: no lyrics loss (silence is not known)
        covered = set()
        for start, end, target in example_lines:
            frames = [k for k in inside if start <= times[k] <= end]
            covered.update(frames)
            if start >= 0 and end <= window and frames:
                segments.append(Segment(example, frames[0], frames[-1] + 1, tuple(target)))
        # Runs of frames outside every line: empty targets.
        runs: list[list[int]] = []
        for k in inside:
            if k in covered:
                continue
            if runs and k == runs[-1][-1] + 1:
                runs[-1].append(k)
            else:
                runs.append([k])
        segments += [Segment(example, run[0], run[-1] + 1, ()) for run in runs]
    return segments


class Lyrics(nn.Module):
    """CTC of the lyrics head within line intervals.

    Args:
        weight: factor of this term in the objective (0 logs it without training the head).
    """

    name = "lyrics"

    def __init__(self, weight: float = 1.0):
        super().__init__()
        if not weight >= 0:
            raise ConfigError(f"Lyrics: weight must be >= 0, got {weight!r}")
        self.weight = weight
        self.infeasible = 0

    def forward(self, log_probs: torch.Tensor, segments: Sequence[Segment]) -> torch.Tensor:
        """Mean CTC negative log-likelihood per frame of ``segments`` of ``log_probs``
        ``(batch, frames, classes)``; 0 (with a gradient path) without segments."""
        if not segments:
            return log_probs.sum() * 0.0
        longest = max(s.stop - s.first for s in segments)
        classes = log_probs.shape[-1]
        # (time, segments, classes), each segment's frames first, padding after.
        padded = log_probs.new_zeros(longest, len(segments), classes)
        for i, s in enumerate(segments):
            padded[: s.stop - s.first, i] = log_probs[s.example, s.first:s.stop]
        input_lengths = torch.tensor([s.stop - s.first for s in segments])
        target_lengths = torch.tensor([len(s.target) for s in segments])
        targets = torch.tensor([c for s in segments for c in s.target], dtype=torch.long)
        losses = F.ctc_loss(padded, targets, input_lengths, target_lengths, blank=0,
                            reduction="none", zero_infinity=True)
        # CTC needs a frame per character plus one between repeated characters.
        self.infeasible = sum(s.stop - s.first < len(s.target) + sum(
            a == b for a, b in zip(s.target, s.target[1:])) for s in segments)
        return losses.sum() / input_lengths.sum().to(losses.dtype)
