"""Waveform discriminators: multi-scale (MelGAN) and multi-period (HiFi-GAN)."""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gansep.models.discriminators.base import Discriminator, normalized, run_stack

SLOPE = 0.1  # LeakyReLU slope of HiFi-GAN's discriminators


class ScaleNet(nn.Module):
    """MelGAN's waveform discriminator (Kumar et al., 2019): a wide first convolution, strided
    grouped convolutions, then two plain ones; returns every activation and the logits."""

    def __init__(self, in_channels: int, channels: int, max_channels: int,
                 strides: Sequence[int], norm: str):
        super().__init__()
        layers = [nn.Conv1d(in_channels, channels, 15, padding=7)]
        width = channels
        for stride in strides:
            out = min(width * stride, max_channels)
            groups = max(1, width // 4)
            while width % groups or out % groups:
                groups -= 1
            layers.append(nn.Conv1d(width, out, stride * 10 + 1, stride, padding=stride * 5,
                                    groups=groups))
            width = out
        layers.append(nn.Conv1d(width, width, 5, padding=2))
        self.layers = nn.ModuleList(normalized(layer, norm) for layer in layers)
        self.post = normalized(nn.Conv1d(width, 1, 3, padding=1), norm)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return run_stack(self.layers, self.post, x, SLOPE)


class Pooled(nn.Module):
    """A sub-discriminator that sees the waveform average-pooled ``times`` times by 2."""

    def __init__(self, net: nn.Module, times: int):
        super().__init__()
        self.net = net
        self.pool = nn.Sequential(*[nn.AvgPool1d(4, 2, padding=2) for _ in range(times)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(self.pool(x))


class MultiScale(Discriminator):
    """Multi-scale waveform discriminator (MelGAN, Kumar et al., 2019; as used by HiFi-GAN):
    the same architecture on the waveform at ``scales`` rates, each half the previous.

    Args:
        scales: number of rates (1, 1/2, 1/4, ...).
        channels: width of the first layer (MelGAN: 16).
        max_channels: widest layer (MelGAN: 1024).
        strides: downsampling of the grouped convolutions (MelGAN: 4, 4, 4, 4).
        norm: ``weight``, ``spectral`` or ``none``; HiFi-GAN uses spectral norm on the
            full-rate scale, which ``spectral_first`` keeps.
        spectral_first: spectral norm on the first scale whatever ``norm`` says.
        conditional, per_source: see [`Discriminator`][].
    """

    name = "msd"

    def __init__(self, scales: int = 3, channels: int = 16, max_channels: int = 1024,
                 strides: list[int] = [4, 4, 4, 4],
                 norm: Literal["weight", "spectral", "none"] = "weight",
                 spectral_first: bool = True, conditional: bool = False,
                 per_source: bool = False):
        super().__init__(conditional, per_source)
        self.scales, self.channels, self.max_channels = scales, channels, max_channels
        self.strides, self.norm, self.spectral_first = list(strides), norm, spectral_first

    def make(self, in_channels: int) -> nn.ModuleList:
        def norm(i):
            return "spectral" if i == 0 and self.spectral_first else self.norm
        return nn.ModuleList(
            Pooled(ScaleNet(in_channels, self.channels, self.max_channels, self.strides,
                            norm(i)), i) for i in range(self.scales))


class PeriodNet(nn.Module):
    """HiFi-GAN's period discriminator (Kong et al., 2020): the waveform folded into
    ``(time / period, period)`` and judged by convolutions of kernel (5, 1) that stride over
    time only, so each column sees samples ``period`` apart.

    A (k, 1) 2-D convolution is a 1-D convolution of every column, so the columns are folded
    into the batch and run as Conv1d (same weights and results, faster on CPU); the features
    are returned in HiFi-GAN's ``(batch, channels, time / period, period)`` layout.
    """

    def __init__(self, in_channels: int, period: int, channels: Sequence[int], norm: str):
        super().__init__()
        self.period = period
        widths = [in_channels, *channels]
        layers = [nn.Conv1d(widths[i], widths[i + 1], 5, 3 if i < len(channels) - 1 else 1,
                            padding=2) for i in range(len(channels))]
        self.layers = nn.ModuleList(normalized(layer, norm) for layer in layers)
        self.post = normalized(nn.Conv1d(widths[-1], 1, 3, padding=1), norm)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        batch, channels, time = x.shape
        p = self.period
        if time % p:
            pad = p - time % p
            x = F.pad(x, (0, pad), mode="reflect" if pad < time else "constant")
        x = x.view(batch, channels, -1, p).permute(0, 3, 1, 2).reshape(batch * p, channels, -1)

        # Back to (batch, c, t, p), as views.
        return [y.view(batch, p, y.shape[1], y.shape[2]).permute(0, 2, 3, 1)
                for y in run_stack(self.layers, self.post, x, SLOPE)]


class MultiPeriod(Discriminator):
    """Multi-period waveform discriminator (HiFi-GAN, Kong et al., 2020).

    Args:
        periods: one sub-discriminator per period (HiFi-GAN: 2, 3, 5, 7, 11).
        channels: widths of the convolutions (HiFi-GAN: 32, 128, 512, 1024, 1024).
        norm: ``weight``, ``spectral`` or ``none``.
        conditional, per_source: see [`Discriminator`][].
    """

    name = "mpd"

    def __init__(self, periods: list[int] = [2, 3, 5, 7, 11],
                 channels: list[int] = [32, 128, 512, 1024, 1024],
                 norm: Literal["weight", "spectral", "none"] = "weight",
                 conditional: bool = False, per_source: bool = False):
        super().__init__(conditional, per_source)
        self.periods, self.channels, self.norm = list(periods), list(channels), norm

    def make(self, in_channels: int) -> nn.ModuleList:
        return nn.ModuleList(PeriodNet(in_channels, p, self.channels, self.norm)
                             for p in self.periods)
