"""Reconstruction losses between estimated and reference sources.

Every loss takes ``estimate`` and ``reference`` of shape ``(batch, sources, channels, time)`` and
returns a scalar; ``weight`` scales it inside an `Objective`.
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


class MultiResolutionSTFT(ReconstructionLoss):
    """Multi-resolution STFT loss (Yamamoto et al., Parallel WaveGAN, 2020): spectral
    convergence plus log-magnitude distance at several STFT resolutions, from auraloss
    (``auraloss.freq.MultiResolutionSTFTLoss``). Every source and channel is one signal.

    Args:
        weight: factor of this term in the objective.
        fft_sizes, hop_sizes, win_lengths: one STFT resolution per position.
        w_sc, w_log_mag, w_lin_mag: weights of spectral convergence, log and linear magnitude.
        scale: None (linear frequency) or "mel"/"chroma" with ``n_bins`` and ``sample_rate``.
        n_bins: frequency bins of the mel or chroma scale.
        sample_rate: needed with a ``scale``.
        perceptual_weighting: A-weighting filter before the STFT (needs ``sample_rate``).
    """

    name = "mrstft"

    def __init__(self, weight: float = 1.0, fft_sizes: list[int] = [1024, 2048, 512],
                 hop_sizes: list[int] = [120, 240, 50], win_lengths: list[int] = [600, 1200, 240],
                 w_sc: float = 1.0, w_log_mag: float = 1.0, w_lin_mag: float = 0.0,
                 scale: str | None = None, n_bins: int | None = None,
                 sample_rate: float | None = None, perceptual_weighting: bool = False):
        super().__init__(weight)
        from auraloss.freq import MultiResolutionSTFTLoss

        self.loss = MultiResolutionSTFTLoss(
            fft_sizes=list(fft_sizes), hop_sizes=list(hop_sizes), win_lengths=list(win_lengths),
            w_sc=w_sc, w_log_mag=w_log_mag, w_lin_mag=w_lin_mag, scale=scale, n_bins=n_bins,
            sample_rate=sample_rate, perceptual_weighting=perceptual_weighting)

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        time = estimate.shape[-1]
        return self.loss(estimate.reshape(-1, 1, time).float(), reference.reshape(-1, 1, time).float())


class SISDR(ReconstructionLoss):
    """Negative scale-invariant SDR (Le Roux et al., "SDR - half-baked or well done?", 2019),
    from auraloss (``auraloss.time.SISDRLoss``), averaged over sources and channels.

    Args:
        weight: factor of this term in the objective.
        zero_mean: remove each signal's mean first.
        eps: guards the ratio against silent references.
    """

    name = "sisdr"

    def __init__(self, weight: float = 1.0, zero_mean: bool = True, eps: float = 1e-8):
        super().__init__(weight)
        from auraloss.time import SISDRLoss

        self.loss = SISDRLoss(zero_mean=zero_mean, eps=eps)

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.loss(estimate.float(), reference.float())
