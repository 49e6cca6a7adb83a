"""The training objective: a weighted sum of loss terms, each logged on its own."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gansep.errors import ConfigError
from gansep.losses.adversarial import GAN
from gansep.models.generator import has_frames
from gansep.losses.lyrics import Lyrics, Segment
from gansep.losses.reconstruction import L1, ReconstructionLoss


class Objective(nn.Module):
    """Weighted sum of reconstruction terms, plus optionally an adversarial term.

    Args:
        reconstruction: the terms; each carries its own ``weight``. Defaults to L1 alone.
        adversarial: a discriminator with its GAN loss and weights (needs a GAN-capable
            LightningModule: [`GANSeparator`][gansep.training.gan.GANSeparator]).
        lyrics: the CTC term of a lyrics head (needs a generator with one:
            `LyricsWaveUNet`), with its own weight.
    """

    def __init__(self, reconstruction: Sequence[ReconstructionLoss] | None = None,
                 adversarial: GAN | None = None, lyrics: Lyrics | None = None):
        super().__init__()
        terms = list(reconstruction) if reconstruction is not None else [L1()]
        if not terms:
            raise ConfigError("Objective: reconstruction needs at least one loss term")
        names = [term.name for term in terms]
        if len(set(names)) != len(names):
            raise ConfigError(f"Objective: loss terms must have distinct names, got {names}")
        self.reconstruction = nn.ModuleList(terms)
        self.adversarial = adversarial
        self.lyrics = lyrics

    def bind(self, generator) -> "Objective":
        """Builds the discriminator for the generator's sources and channels."""
        if self.adversarial is not None:
            self.adversarial.bind(len(generator.sources), generator.channels)
        if self.lyrics is not None and not has_frames(generator):
            raise ConfigError(f"the objective has a lyrics term, but the generator "
                              f"{type(generator).__name__} has no lyrics head (use "
                              "gansep.models.LyricsWaveUNet)")
        return self

    @property
    def name(self) -> str:
        names = [term.name for term in self.reconstruction]
        if self.adversarial is not None:
            names.append(self.adversarial.name)
        if self.lyrics is not None:
            names.append(self.lyrics.name)
        return "+".join(names)

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor,
                stems: torch.Tensor | None = None,
                transcription: tuple[torch.Tensor, Sequence[Segment]] | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted total and the unweighted value of every term by name, for the
        reconstruction terms and the lyrics term (the adversarial part needs the
        discriminator's own training step).

        Args:
            estimate, reference: ``(batch, sources, channels, time)``.
            stems: ``(batch,)`` bool, which examples have stems; the reconstruction terms see
                only those (None: all).
            transcription: the lyrics head's ``(log_probs, segments)`` (see
                `gansep.losses.lyrics`), for the lyrics term.
        """
        if stems is not None and not bool(stems.all()):
            estimate, reference = estimate[stems], reference[stems]
        if len(estimate):
            values = {term.name: term(estimate, reference) for term in self.reconstruction}
        else:  # a batch of lyrics-only excerpts: nothing to separate
            zero = estimate.sum() * 0.0
            values = {term.name: zero for term in self.reconstruction}
        total = sum(term.weight * values[term.name] for term in self.reconstruction)
        if self.lyrics is not None and transcription is not None:
            values[self.lyrics.name] = self.lyrics(*transcription)
            total = total + self.lyrics.weight * values[self.lyrics.name]
        return total, values
