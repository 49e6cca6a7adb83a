"""The training objective: a weighted sum of loss terms, each logged on its own."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gansep.losses.adversarial import GAN
from gansep.losses.reconstruction import L1, ReconstructionLoss


class Objective(nn.Module):
    """Weighted sum of reconstruction terms, plus optionally an adversarial term.

    Args:
        reconstruction: the terms; each carries its own ``weight``. Defaults to L1 alone.
        adversarial: a discriminator with its GAN loss and weights (needs a GAN-capable
            LightningModule: :class:`~gansep.training.GANSeparator`).
    """

    def __init__(self, reconstruction: Sequence[ReconstructionLoss] | None = None,
                 adversarial: GAN | None = None):
        super().__init__()
        terms = list(reconstruction) if reconstruction is not None else [L1()]
        if not terms:
            raise ValueError("Objective: reconstruction needs at least one loss term")
        names = [term.name for term in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"Objective: loss terms must have distinct names, got {names}")
        self.reconstruction = nn.ModuleList(terms)
        self.adversarial = adversarial

    def bind(self, generator) -> "Objective":
        """Builds the discriminator for the generator's sources and channels."""
        if self.adversarial is not None:
            self.adversarial.discriminator.bind(len(generator.sources), generator.channels)
        return self

    @property
    def name(self) -> str:
        names = [term.name for term in self.reconstruction]
        if self.adversarial is not None:
            names.append(self.adversarial.name)
        return "+".join(names)

    def forward(self, estimate: torch.Tensor,
                reference: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The reconstruction part: the weighted total and the unweighted value of every term
        by name (the adversarial part needs the discriminator's own training step)."""
        values = {term.name: term(estimate, reference) for term in self.reconstruction}
        total = sum(term.weight * values[term.name] for term in self.reconstruction)
        return total, values
