"""Exponential moving average of a network's weights (as in many GAN vocoders and
separators): a smoothed copy for validation and export."""

from __future__ import annotations

import copy

import torch
from torch import nn

from gansep.errors import ConfigError


class EMA(nn.Module):
    """Keeps ``average = decay * average + (1 - decay) * current`` for every parameter (buffers
    are copied). A submodule, so it is saved and restored with the LightningModule.

    Args:
        module: the network to follow (copied at construction).
        decay: weight of the past, in [0, 1).
    """

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(module).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for average, current in zip(self.module.parameters(), module.parameters()):
            average.lerp_(current.detach().to(average.dtype), 1.0 - self.decay)
        for average, current in zip(self.module.buffers(), module.buffers()):
            average.copy_(current)

    def train(self, mode: bool = True) -> "EMA":
        super().train(mode)
        self.module.eval()  # the average is only ever used for inference
        return self
