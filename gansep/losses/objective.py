"""The training objective: a weighted sum of loss terms, each logged on its own."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gansep.losses.reconstruction import L1, ReconstructionLoss


class Objective(nn.Module):
    """Weighted sum of reconstruction terms.

    Args:
        reconstruction: the terms; each carries its own ``weight``. Defaults to L1 alone.
    """

    def __init__(self, reconstruction: Sequence[ReconstructionLoss] | None = None):
        super().__init__()
        terms = list(reconstruction) if reconstruction is not None else [L1()]
        if not terms:
            raise ValueError("Objective: reconstruction needs at least one loss term")
        names = [term.name for term in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"Objective: loss terms must have distinct names, got {names}")
        self.reconstruction = nn.ModuleList(terms)

    @property
    def name(self) -> str:
        return "+".join(term.name for term in self.reconstruction)

    def forward(self, estimate: torch.Tensor,
                reference: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the weighted total and the unweighted value of every term by name."""
        values = {term.name: term(estimate, reference) for term in self.reconstruction}
        total = sum(term.weight * values[term.name] for term in self.reconstruction)
        return total, values
