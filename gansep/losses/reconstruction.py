"""Reconstruction losses between estimated and reference sources.

Every loss takes ``estimate`` and ``reference`` of shape ``(batch, sources, channels, time)`` and
returns a scalar; ``weight`` scales it inside an :class:`Objective`.
"""

from __future__ import annotations

import torch
from torch import nn


class ReconstructionLoss(nn.Module):
    """Base class: a loss term with a weight and a name under which it is logged.

    Args:
        weight: factor of this term in the objective's total.
    """

    name = "reconstruction"

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = weight

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class L1(ReconstructionLoss):
    """Mean absolute error over all samples, channels and sources."""

    name = "l1"

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return (estimate - reference).abs().mean()


class L2(ReconstructionLoss):
    """Mean squared error over all samples, channels and sources (the Wave-U-Net paper's loss)."""

    name = "l2"

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return (estimate - reference).pow(2).mean()
