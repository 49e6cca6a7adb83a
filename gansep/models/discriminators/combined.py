"""Several discriminator families judging together, each with a weight."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gansep.errors import ConfigError
from gansep.models.discriminators.base import Discriminator, Judgement


class Combined(Discriminator):
    """Any list of discriminators; the losses of each are scaled by its weight (HiFi-GAN:
    multi-period + multi-scale with weight 1 each).

    Args:
        discriminators: the families.
        weights: one per family (default 1 each).
    """

    def __init__(self, discriminators: Sequence[Discriminator],
                 weights: Sequence[float] | None = None):
        super().__init__()
        weights = [1.0] * len(discriminators) if weights is None else list(weights)
        if not discriminators or len(weights) != len(discriminators):
            raise ConfigError(f"Combined: {len(discriminators)} discriminators but "
                             f"{len(weights)} weights")
        self.members = nn.ModuleList(discriminators)
        self.weights = weights

    @property
    def name(self) -> str:
        return "+".join(member.name for member in self.members)

    def bind(self, sources: int, channels: int) -> "Combined":
        for member in self.members:
            member.bind(sources, channels)
        self.nets = nn.ModuleList()  # bound; the members hold the networks
        return self

    def forward(self, sources: torch.Tensor,
                mixture: torch.Tensor | None = None) -> list[Judgement]:
        judgements = []
        for member, weight in zip(self.members, self.weights):
            for judgement in member(sources, mixture):
                judgement.weight *= weight
                judgements.append(judgement)
        return judgements
