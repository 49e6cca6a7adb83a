"""The training side of an auxiliary task: a term of the objective beside separation that
reads a head of the generator (the lyrics head's CTC term). One small interface says what a
training or validation step's forward pass also returns, which excerpts of the batch have
separation targets, and what validation logs; `Separator` and `GANSeparator` call it without
knowing the task. What the batch carries for the task is ``Batch.auxiliary`` (the data
side: `gansep.data.sampling`), what evaluation does with the head's frames is
`gansep.eval.tasks`.
"""

from __future__ import annotations

import torch

from gansep.eval.transcribe import error_rates, segment_transcripts
from gansep.losses.lyrics import ctc_segments


class AuxiliaryTask:
    """No auxiliary task: the generator's plain forward pass, nothing more to log."""

    def separate(self, generator, mixture: torch.Tensor, auxiliary) -> tuple[torch.Tensor,
                                                                            object | None]:
        """``generator``'s estimates of ``mixture`` and what the objective's auxiliary term
        reads (None: nothing; ``auxiliary`` is the batch's ``Batch.auxiliary``)."""
        return generator(mixture), None

    def with_targets(self, auxiliary) -> torch.Tensor | None:
        """Which excerpts of the batch have separation targets (a boolean mask; None: all)."""
        return None

    def validation_items(self, state, generator) -> list:
        """What a validation step adds to the epoch's summary."""
        return []

    def validation_values(self, items: list) -> dict[str, float]:
        """``{name: value}`` logged as ``val/<name>`` at the end of a validation epoch."""
        return {}


class LyricsTask(AuxiliaryTask):
    """The lyrics head's CTC term: the head's log-probabilities from the separating pass and
    each excerpt's CTC segments; in validation, greedy transcripts of the lines, logged as
    ``val/cer`` and ``val/wer``."""

    def separate(self, generator, mixture, auxiliary):
        if auxiliary is None:
            return generator(mixture), None
        estimates, log_probs = generator.separate_with_frames(mixture)
        segments = ctc_segments(generator.frame_times(mixture.shape[-1]),
                                estimates.shape[-1] / generator.sample_rate,
                                [item.lines for item in auxiliary])
        return estimates, (log_probs, segments)

    def with_targets(self, auxiliary):
        return None if auxiliary is None else auxiliary.stems

    def validation_items(self, state, generator):
        return segment_transcripts(state[0], state[1], generator.vocabulary)

    def validation_values(self, items):
        if not items:
            return {}
        rates = error_rates([reference for reference, _ in items],
                            [hypothesis for _, hypothesis in items])
        return {name.lower(): value for name, value in rates.items()}


def task_of(objective) -> AuxiliaryTask:
    """The auxiliary task of an objective's terms (the plain one without any)."""
    return LyricsTask() if objective.lyrics is not None else AuxiliaryTask()
