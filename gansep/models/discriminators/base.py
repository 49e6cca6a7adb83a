"""The interface every discriminator family shares.

A family (multi-scale, multi-period, spectral, ...) is a set of sub-discriminators, each mapping
``(batch, in_channels, time)`` to a list of feature maps whose last item is the logits. The base
class adapts a family to separation: it judges each separated source alone (unconditional) or
together with the mixture (conditional), with one set of weights shared by all sources or one
per source, and returns one [`Judgement`][] per sub-discriminator (and source).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import parametrizations


@dataclass
class Judgement:
    """One sub-discriminator's verdict: its ``features`` (last item: the logits), and the
    ``weight`` of its losses (families average their sub-discriminators; Combined scales)."""

    name: str
    weight: float
    features: list[torch.Tensor]

    @property
    def logits(self) -> torch.Tensor:
        return self.features[-1]


def normalized(layer: nn.Module, norm: str) -> nn.Module:
    """Applies ``weight`` norm, ``spectral`` norm or ``none`` to a conv layer."""
    if norm == "weight":
        return parametrizations.weight_norm(layer)
    if norm == "spectral":
        return parametrizations.spectral_norm(layer)
    return layer


def run_stack(layers: nn.ModuleList, post: nn.Module, x: torch.Tensor,
              slope: float) -> list[torch.Tensor]:
    """Every layer with a LeakyReLU, then the output layer: all activations, logits last."""
    features = []
    for layer in layers:
        x = torch.nn.functional.leaky_relu(layer(x), slope)
        features.append(x)
    features.append(post(x))
    return features


class Discriminator(nn.Module):
    """Base class of discriminator families.

    Args:
        conditional: also show the mixture (concatenated as channels) with each source.
        per_source: one set of sub-discriminators per source rather than one shared by all.
    """

    name = "discriminator"

    def __init__(self, conditional: bool = False, per_source: bool = False):
        super().__init__()
        self.conditional = conditional
        self.per_source = per_source
        self.nets: nn.ModuleList | None = None
        self.sources = 0

    @property
    def min_length(self) -> int:
        """The fewest samples every sub-network (once bound) can judge."""
        return max([1] + [getattr(m, "min_input", 1) for m in self.modules()])

    def make(self, in_channels: int) -> nn.ModuleList:
        """The family's sub-discriminators for ``in_channels`` input channels."""
        raise NotImplementedError

    def bind(self, sources: int, channels: int) -> "Discriminator":
        """Builds the networks for a generator with ``sources`` sources of ``channels``."""
        in_channels = channels * (2 if self.conditional else 1)
        self.sources = sources
        self.nets = nn.ModuleList(self.make(in_channels)
                                  for _ in range(sources if self.per_source else 1))
        return self

    def forward(self, sources: torch.Tensor,
                mixture: torch.Tensor | None = None) -> list[Judgement]:
        """Judges ``sources`` ``(batch, sources, channels, time)``; ``mixture``
        ``(batch, channels, time)`` is required when conditional."""
        if self.nets is None:
            raise RuntimeError(f"{type(self).__name__} must be bound to a generator first "
                               "(Discriminator.bind(sources, channels))")
        batch, count, channels, time = sources.shape
        if self.conditional:
            if mixture is None:
                raise ValueError(f"conditional {type(self).__name__} needs the mixture")
            mixture = mixture.unsqueeze(1).expand(-1, count, -1, -1)
            sources = torch.cat([sources, mixture], dim=2)
        if self.per_source:
            groups = [(nets, sources[:, k]) for k, nets in enumerate(self.nets)]
        else:  # shared weights: sources folded into the batch
            groups = [(self.nets[0], sources.reshape(batch * count, -1, time))]
        return [Judgement(self.name, 1.0 / (len(nets) * len(groups)), net(x))
                for nets, x in groups for net in nets]
