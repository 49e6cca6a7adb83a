"""The Wave-U-Net discriminator (Kaneko, Tanaka, Kameoka & Seki, "Wave-U-Net discriminator:
fast and lightweight discriminator for generative adversarial network-based speech synthesis",
ICASSP 2023): one encoder-decoder that judges every sample, instead of many sub-discriminators
that each judge a coarse view, built from gansep's own Wave-U-Net blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gansep.models.discriminators.base import Discriminator, normalized
from gansep.models.waveunet import Upsample

SLOPE = 0.2


class WaveUNetCritic(nn.Module):
    """Zero-padded Wave-U-Net blocks (decimating encoder, linearly upsampling decoder with
    skip connections) ending in one logit per input sample; returns every block's output, the
    logits ``(batch, 1, time)`` last. Any length: the input is zero-padded to a multiple of
    ``2**levels`` and the logits cut back.

    Args:
        in_channels: input channels (sources, or sources + mixture when conditional).
        levels: downsampling blocks.
        channels: filters added per level (block ``i`` has ``channels * (i + 1)``).
        kernel: kernel size of every convolution but the output one.
        norm: ``weight``, ``spectral`` or ``none``.
    """

    def __init__(self, in_channels: int, levels: int = 4, channels: int = 16,
                 kernel: int = 15, norm: str = "weight"):
        super().__init__()
        self.levels = levels
        width = [channels * (i + 1) for i in range(levels + 1)]

        def conv(c_in: int, c_out: int, k: int = kernel) -> nn.Module:
            return normalized(nn.Conv1d(c_in, c_out, k, padding=k // 2), norm)

        self.down = nn.ModuleList(conv(in_channels if i == 0 else width[i - 1], width[i])
                                  for i in range(levels))
        self.bottleneck = conv(width[levels - 1], width[levels])
        self.upsample = nn.ModuleList(Upsample(width[levels - j], learned=False, valid=False)
                                      for j in range(levels))
        self.up = nn.ModuleList(conv(width[levels - j] + width[levels - 1 - j],
                                     width[levels - 1 - j]) for j in range(levels))
        self.post = normalized(nn.Conv1d(width[0], 1, 1), norm)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        time = x.shape[-1]
        block = 2**self.levels
        x = F.pad(x, (0, -time % block))
        features, skips = [], []
        for conv in self.down:
            x = F.leaky_relu(conv(x), SLOPE)
            features.append(x)
            skips.append(x)
            x = x[..., ::2]
        x = F.leaky_relu(self.bottleneck(x), SLOPE)
        features.append(x)
        for upsample, conv, skip in zip(self.upsample, self.up, reversed(skips)):
            x = F.leaky_relu(conv(torch.cat([skip, upsample(x)], dim=1)), SLOPE)
            features.append(x)
        features.append(self.post(x)[..., :time])
        return features


class WaveUNetDiscriminator(Discriminator):
    """A Wave-U-Net that outputs one real/fake logit per sample (Kaneko et al., 2023), with
    every block's output as features for feature matching; conditional or not, per source or
    shared, like every family.

    Args:
        levels, channels, kernel, norm: see `WaveUNetCritic` (the paper's: 6 levels).
        conditional, per_source: see [`Discriminator`][].
    """

    name = "wud"

    def __init__(self, levels: int = 6, channels: int = 16, kernel: int = 15,
                 norm: str = "weight", conditional: bool = False, per_source: bool = False):
        super().__init__(conditional, per_source)
        self.levels, self.channels, self.kernel, self.norm = levels, channels, kernel, norm

    def make(self, in_channels: int) -> nn.ModuleList:
        return nn.ModuleList([WaveUNetCritic(in_channels, self.levels, self.channels,
                                             self.kernel, self.norm)])
