"""Spectral discriminators: multi-resolution STFT magnitude (UnivNet) and complex multi-scale
STFT (EnCodec). Both judge a spectrogram laid out as ``(batch, channels, frames, bins)`` with
2-D convolutions that stride over frequency."""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

from gansep.errors import ConfigError
from gansep.models.discriminators.base import Discriminator, normalized, run_stack

SLOPE = 0.2


class SpectrogramNet(nn.Module):
    """STFT of every channel, then convolutions (3x9, then 3x9 striding frequency by 2 with the
    given time dilations, then 3x3) and a 3x3 output.

    Args:
        in_channels: waveform channels.
        n_fft, hop, win: the STFT.
        complex_input: real and imaginary parts as channels (EnCodec) instead of the magnitude
            (UnivNet).
        channels: convolution width.
        dilations: time dilation of each strided convolution.
        norm: ``weight``, ``spectral`` or ``none``.
    """

    def __init__(self, in_channels: int, n_fft: int, hop: int, win: int, complex_input: bool,
                 channels: int, dilations: Sequence[int], norm: str):
        super().__init__()
        self.n_fft, self.hop, self.win, self.complex_input = n_fft, hop, win, complex_input
        self.min_input = n_fft // 2 + 1  # the centred STFT's reflect padding needs more
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        width = in_channels * (2 if complex_input else 1)
        layers = [nn.Conv2d(width, channels, (3, 9), padding=(1, 4))]
        layers += [nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(d, 4), dilation=(d, 1))
                   for d in dilations]
        layers.append(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.layers = nn.ModuleList(normalized(layer, norm) for layer in layers)
        self.post = normalized(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)), norm)

    @torch.compiler.disable  # Inductor generates no code for complex ops: keep the STFT eager
    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, time = x.shape
        spec = torch.stft(x.reshape(batch * channels, time).float(), self.n_fft, self.hop,
                          self.win, self.window, center=True, return_complex=True)
        spec = spec.transpose(1, 2)  # (batch * channels, frames, bins)
        if self.complex_input:
            spec = torch.stack([spec.real, spec.imag], dim=1)
        else:
            spec = spec.abs().unsqueeze(1)
        return spec.reshape(batch, -1, *spec.shape[-2:])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return run_stack(self.layers, self.post, self.spectrogram(x), SLOPE)


class MultiResolutionSpectral(Discriminator):
    """Multi-resolution spectrogram discriminator (UnivNet, Jang et al., 2021): one
    sub-discriminator on the STFT magnitude per resolution.

    Args:
        resolutions: ``[n_fft, hop, win]`` per sub-discriminator (UnivNet's, for 24 kHz:
            [1024, 120, 600], [2048, 240, 1200], [512, 50, 240]).
        channels: convolution width (UnivNet: 32).
        norm: ``weight``, ``spectral`` or ``none``.
        conditional, per_source: see [`Discriminator`][].
    """

    name = "mrsd"

    def __init__(self, resolutions: list[list[int]] = [[1024, 120, 600], [2048, 240, 1200],
                                                       [512, 50, 240]],
                 channels: int = 32, norm: Literal["weight", "spectral", "none"] = "weight",
                 conditional: bool = False, per_source: bool = False):
        super().__init__(conditional, per_source)
        for resolution in resolutions:
            if len(resolution) != 3 or resolution[2] > resolution[0]:
                raise ConfigError(f"MultiResolutionSpectral: each resolution is [n_fft, hop, win]"
                                 f" with win <= n_fft, got {resolution}")
        self.resolutions, self.channels, self.norm = [list(r) for r in resolutions], channels, norm

    def make(self, in_channels: int) -> nn.ModuleList:
        return nn.ModuleList(
            SpectrogramNet(in_channels, n_fft, hop, win, False, self.channels, [1, 1, 1],
                           self.norm) for n_fft, hop, win in self.resolutions)


class ComplexSTFT(Discriminator):
    """Complex multi-scale STFT discriminator (EnCodec, Défossez et al., 2022): real and
    imaginary parts as channels, time-dilated convolutions, one sub-discriminator per FFT size
    (hop a quarter of it).

    Args:
        n_ffts: FFT (and window) sizes (EnCodec: 2048, 1024, 512).
        channels: convolution width (EnCodec: 32).
        dilations: time dilations of the strided convolutions (EnCodec: 1, 2, 4).
        norm: ``weight``, ``spectral`` or ``none``.
        conditional, per_source: see [`Discriminator`][].
    """

    name = "cstft"

    def __init__(self, n_ffts: list[int] = [2048, 1024, 512], channels: int = 32,
                 dilations: list[int] = [1, 2, 4],
                 norm: Literal["weight", "spectral", "none"] = "weight",
                 conditional: bool = False, per_source: bool = False):
        super().__init__(conditional, per_source)
        self.n_ffts, self.channels, self.dilations, self.norm = (list(n_ffts), channels,
                                                                 list(dilations), norm)

    def make(self, in_channels: int) -> nn.ModuleList:
        return nn.ModuleList(
            SpectrogramNet(in_channels, n, n // 4, n, True, self.channels, self.dilations,
                           self.norm) for n in self.n_ffts)
