"""The classes this package exports to gansep (its entry point in the group
``gansep.plugins``): a generator, a discriminator, a reconstruction loss and a metric, defined
here, not in gansep."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gansep.eval.metrics import Metric
from gansep.losses import ReconstructionLoss
from gansep.models.discriminators.base import Discriminator, normalized, run_stack
from gansep.models.generator import Chunking, Generator, Geometry

__all__ = ["ConvMask", "Envelope", "LogCosh", "PeakError"]


class ConvMask(Generator):
    """Each source as the mixture times a mask that one valid convolution of ``kernel``
    samples computes from the mixture around it."""

    def __init__(self, sources=("vocals", "accompaniment"), channels=2, sample_rate=22050,
                 kernel=65, output_length=4096):
        super().__init__()
        self.sources, self.channels, self.sample_rate = list(sources), channels, sample_rate
        self.config = dict(sources=list(sources), channels=channels, sample_rate=sample_rate,
                           kernel=kernel, output_length=output_length)
        self.context = (kernel - 1) // 2
        self.net = nn.Conv1d(channels, len(self.sources) * channels, 2 * self.context + 1)
        self.geometry = self.geometry_for(output_length)

    def geometry_for(self, output_length):
        return Geometry(output_length + 2 * self.context, output_length,
                        self.context, self.context)

    def chunking(self, chunk_length=None, overlap=0.25):
        # Valid convolutions: chunks read `context` more samples each side and their outputs
        # join exactly, with no cross-fade (`overlap` is unused).
        g = self.geometry_for(chunk_length or self.geometry.output_length)
        return Chunking(input_length=g.input_length, step=g.output_length,
                        pad_left=self.context, keep_start=0, keep_length=g.output_length,
                        alignment=1, reach=self.context)

    def forward(self, mixture):
        batch, channels, time = mixture.shape
        masks = torch.sigmoid(self.net(mixture)).reshape(batch, len(self.sources), channels, -1)
        return masks * mixture[..., self.context: time - self.context].unsqueeze(1)


class PeakError(Metric):
    """The largest absolute error of each source's estimate, in dB relative to full scale."""

    names = ("peak_error",)

    def __call__(self, track):
        error = track.estimates - track.references
        peak = np.abs(error).reshape(len(error), -1).max(axis=1)
        return {"peak_error": 20 * np.log10(np.maximum(peak, 1e-12))}


class EnvelopeNet(nn.Module):
    """Strided convolutions over the log envelope (rectified, average-pooled) of a waveform."""

    def __init__(self, in_channels, width, pool, norm):
        super().__init__()
        self.pool = pool
        self.layers = nn.ModuleList(
            normalized(nn.Conv1d(a, b, 5, stride=2, padding=2), norm)
            for a, b in [(in_channels, width), (width, width), (width, width)])
        self.post = normalized(nn.Conv1d(width, 1, 3, padding=1), norm)

    def forward(self, x):
        envelope = torch.log1p(nn.functional.avg_pool1d(x.abs(), self.pool))
        return run_stack(self.layers, self.post, envelope, slope=0.2)


class Envelope(Discriminator):
    """Judges the loudness contour of each source at several pooling sizes."""

    name = "envelope"

    def __init__(self, pools=(16, 64), width=16, norm="weight", conditional=False,
                 per_source=False):
        super().__init__(conditional, per_source)
        self.pools, self.width, self.norm = list(pools), width, norm

    def make(self, in_channels):
        return nn.ModuleList(EnvelopeNet(in_channels, self.width, pool, self.norm)
                             for pool in self.pools)


class LogCosh(ReconstructionLoss):
    """log(cosh(error)): L2 near zero, L1 for large errors."""

    name = "log-cosh"

    def forward(self, estimate, reference):
        return torch.log(torch.cosh(estimate - reference)).mean()
