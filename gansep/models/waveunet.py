"""Wave-U-Net generator (Stoller, Ewert & Dixon, "Wave-U-Net: a multi-scale neural network for
end-to-end audio source separation", ISMIR 2018).

Shapes: the mixture is ``(batch, channels, time)``; the estimate is
``(batch, sources, channels, time)``. With ``context=True`` (the paper's M3 and later) every
convolution is *valid*, so the output is shorter than the input: the extra input on each side is
the context the output samples need to see. With ``context=False`` (M1) convolutions are
zero-padded and input and output have the same length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from gansep.errors import ConfigError
from gansep.models.generator import Chunking, Generator, Geometry, source_problems

# Slope of the LeakyReLU used after every convolution but the output one (the paper's code uses
# TensorFlow's default of 0.2).
LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class BlockGeometry:
    """One upsampling block's output map: ``length`` frames; frame k sits at input sample
    ``offset + k * step`` (so its rate is the model's rate divided by ``step``)."""

    length: int
    offset: float
    step: int


class Upsample(nn.Module):
    """Doubles the time resolution by inserting, between every two neighbours ``f_t`` and
    ``f_{t+1}``, the value ``w * f_t + (1 - w) * f_{t+1}``.

    ``learned=False`` fixes ``w = 0.5`` (linear interpolation); ``learned=True`` learns one
    ``w = sigmoid(v_c)`` per feature channel, initialised to linear (the paper's M5, Eq. 1).
    In valid mode ``n`` samples become ``2n - 1`` (nothing is extrapolated past the last sample);
    in same mode the last sample is repeated once so that ``n`` become ``2n``.

    Args:
        channels: number of feature channels.
        learned: learn the interpolation weights.
        valid: valid (context) mode rather than same mode.
    """

    def __init__(self, channels: int, learned: bool, valid: bool):
        super().__init__()
        self.valid = valid
        self.weight = nn.Parameter(torch.zeros(channels, 1)) if learned else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.valid:
            x = torch.cat([x, x[..., -1:]], dim=-1)
        w = 0.5 if self.weight is None else torch.sigmoid(self.weight)
        between = w * x[..., :-1] + (1 - w) * x[..., 1:]
        n = between.shape[-1]
        out = torch.stack([x[..., :n], between], dim=-1).flatten(-2)
        return out if not self.valid else torch.cat([out, x[..., n:]], dim=-1)


def _conv_block(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(conv(x), LEAKY_SLOPE)


def center_crop(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crops the last axis of ``x`` to ``length`` samples around its centre (as the paper's
    crop-and-concatenate: the extra samples are split evenly, the odd one on the right)."""
    start = (x.shape[-1] - length) // 2
    return x[..., start : start + length]


class WaveUNet(Generator):
    """Wave-U-Net separator.

    Args:
        sources: names of the separated sources, in output order. With ``difference_output``
            the last one is the mixture minus all the others.
        channels: audio channels (1 mono, 2 stereo).
        sample_rate: the rate, in Hz, the model works at; data are resampled to it.
        levels: number of downsampling (and upsampling) blocks, L.
        extra_filters: filters added per level, F_c: block i has ``F_c * i`` filters.
        down_kernel: kernel size f_d of the downsampling and bottleneck convolutions.
        up_kernel: kernel size f_u of the upsampling convolutions.
        output_kernel: kernel size of the output convolution.
        upsampling: ``linear`` interpolation or ``learned`` interpolation (M5).
        difference_output: output ``sources - 1`` estimates and take the last source as the
            mixture minus their sum (M2 and later).
        context: valid convolutions with input context (M3 and later) rather than zero-padded
            ones (M1).
        output_length: the nominal number of output samples of one forward pass (training
            excerpts and chunked separation use it). With ``context`` the actual length is the
            smallest the architecture can produce that is at least this long.
        checkpointing: recompute each level's activations in the backward pass instead of
            keeping them (`gansep.models.checkpointing`): less memory, more compute; not
            part of ``config`` (exports and ``init_from`` ignore it).
    """

    def __init__(
        self,
        sources: Sequence[str] = ("vocals", "accompaniment"),
        channels: int = 2,
        sample_rate: int = 22050,
        levels: int = 12,
        extra_filters: int = 24,
        down_kernel: int = 15,
        up_kernel: int = 5,
        output_kernel: int = 1,
        upsampling: Literal["linear", "learned"] = "linear",
        difference_output: bool = True,
        context: bool = True,
        output_length: int = 16384,
        checkpointing: bool = False,
    ):
        super().__init__()
        self._check_arguments(sources, channels, sample_rate, levels, extra_filters,
                              down_kernel, up_kernel, output_kernel, upsampling,
                              difference_output, output_length)
        # The constructor arguments: everything needed to rebuild this network.
        self.config = dict(sources=list(sources), channels=channels, sample_rate=sample_rate,
                           levels=levels, extra_filters=extra_filters, down_kernel=down_kernel,
                           up_kernel=up_kernel, output_kernel=output_kernel,
                           upsampling=upsampling, difference_output=difference_output,
                           context=context, output_length=output_length)
        self.sources = list(sources)
        self.channels = channels
        self.sample_rate = sample_rate
        self.levels = levels
        self.extra_filters = extra_filters
        self.down_kernel = down_kernel
        self.up_kernel = up_kernel
        self.output_kernel = output_kernel
        self.upsampling = upsampling
        self.difference_output = difference_output
        self.context = context

        def conv(c_in: int, c_out: int, kernel: int) -> nn.Conv1d:
            return nn.Conv1d(c_in, c_out, kernel, padding=0 if context else kernel // 2)

        width = [extra_filters * (i + 1) for i in range(levels + 1)]  # F_c * i, i = 1..L+1
        self.down = nn.ModuleList(
            conv(channels if i == 0 else width[i - 1], width[i], down_kernel) for i in range(levels)
        )
        self.bottleneck = conv(width[levels - 1], width[levels], down_kernel)
        # Upsampling block j works at level L-1-j: it doubles the resolution of the deeper map,
        # concatenates the skip connection of that level and convolves.
        self.upsample = nn.ModuleList(
            Upsample(width[levels - j], upsampling == "learned", valid=context)
            for j in range(levels)
        )
        self.up = nn.ModuleList(
            conv(width[levels - j] + width[levels - 1 - j], width[levels - 1 - j], up_kernel)
            for j in range(levels)
        )
        estimated = len(self.sources) - 1 if difference_output else len(self.sources)
        self.output = conv(width[0] + channels, estimated * channels, output_kernel)
        self.geometry = self.geometry_for(output_length)
        self.use_checkpointing(checkpointing)

    @staticmethod
    def _check_arguments(sources, channels, sample_rate, levels, extra_filters, down_kernel,
                         up_kernel, output_kernel, upsampling, difference_output, output_length):
        problems = source_problems(sources)
        if difference_output and len(sources) < 2:
            problems.append("difference_output needs at least 2 sources")
        for name, value in [("channels", channels), ("sample_rate", sample_rate),
                            ("levels", levels), ("extra_filters", extra_filters),
                            ("output_length", output_length)]:
            if int(value) != value or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        for name, value in [("down_kernel", down_kernel), ("up_kernel", up_kernel),
                            ("output_kernel", output_kernel)]:
            if int(value) != value or value < 1 or value % 2 == 0:
                problems.append(f"{name} must be a positive odd integer, got {value!r}")
        if upsampling not in ("linear", "learned"):
            problems.append(f"upsampling must be 'linear' or 'learned', got {upsampling!r}")
        if problems:
            raise ConfigError("WaveUNet: " + "; ".join(problems))

    def activation_bytes(self, input_length: int | None = None) -> int:
        """Estimated float32 bytes of the activations that one example's training step keeps
        for the backward pass (every convolution's output and its LeakyReLU, every upsampled
        and concatenated map), at ``input_length`` (default: the nominal input)."""
        n = self.geometry.input_length if input_length is None else input_length
        shrink = (self.down_kernel - 1) if self.context else 0
        width = [self.extra_filters * (i + 1) for i in range(self.levels + 1)]
        floats, skips = 0, []
        for i in range(self.levels):
            n -= shrink
            floats += 2 * width[i] * n
            skips.append(n)
            n = (n + 1) // 2
        n -= shrink
        floats += 2 * width[self.levels] * n
        for j, skip in enumerate(reversed(skips)):
            n = 2 * n - 1 if self.context else 2 * n
            deeper, level = width[self.levels - j], width[self.levels - 1 - j]
            floats += deeper * n + (deeper + level) * n  # upsampled, concatenated
            n -= (self.up_kernel - 1) if self.context else 0
            floats += 2 * level * n
        return 4 * floats

    # ----------------------------------------------------------------------------- geometry
    def _trace(self, input_length: int,
               blocks: list | None = None) -> tuple[int, float] | None:
        """Follows ``input_length`` samples through the network. Returns the output length and
        the input position of output sample 0, or None where some layer would be empty or a
        decimation would drop an end sample (lengths the valid architecture cannot take).
        ``blocks``, when given, receives one [`BlockGeometry`][] per upsampling block."""
        if not self.context:
            if input_length % 2**self.levels:
                return None
            if blocks is not None:
                for j in range(self.levels):
                    step = 2 ** (self.levels - 1 - j)
                    blocks.append(BlockGeometry(input_length // step, 0.0, step))
            return input_length, 0.0
        n, offset, step = input_length, 0.0, 1
        skips = []
        for _ in range(self.levels):
            n -= self.down_kernel - 1
            offset += step * (self.down_kernel - 1) / 2
            if n < 1 or n % 2 == 0:
                return None
            skips.append((n, offset))
            n, step = (n + 1) // 2, step * 2
        n -= self.down_kernel - 1
        offset += step * (self.down_kernel - 1) / 2
        if n < 2:
            return None
        for skip_n, skip_offset in reversed(skips):
            n, step = 2 * n - 1, step // 2
            if skip_n < n:
                return None
            # The cropped skip must sit exactly under the upsampled map.
            if skip_offset + (skip_n - n) // 2 * step != offset:
                return None
            n -= self.up_kernel - 1
            offset += step * (self.up_kernel - 1) / 2
            if n < 1:
                return None
            if blocks is not None:
                blocks.append(BlockGeometry(n, offset, step))
        n -= self.output_kernel - 1
        offset += (self.output_kernel - 1) / 2
        if n < 1 or input_length - n < 0:
            return None
        return n, offset

    def upsampling_blocks(self, input_length: int | None = None) -> list["BlockGeometry"]:
        """The feature maps of the upsampling blocks (block 0 is the deepest) for one forward
        pass of ``input_length`` samples (default: the nominal geometry's)."""
        blocks: list[BlockGeometry] = []
        if self._trace(input_length or self.geometry.input_length, blocks) is None:
            raise ValueError(self._invalid_length_message(input_length))
        return blocks

    def output_length_for(self, input_length: int) -> int:
        """Output length for ``input_length`` input samples; ValueError if the architecture
        cannot take that length (see `geometry_for` for valid lengths)."""
        traced = self._trace(input_length)
        if traced is None:
            raise ValueError(self._invalid_length_message(input_length))
        return traced[0]

    length_argument = "output_length"

    def valid_length(self, samples: int) -> int:
        return self.geometry_for(max(1, int(samples))).output_length

    def geometry_for(self, output_length: int) -> Geometry:
        """The smallest forward pass whose output has at least ``output_length`` samples."""
        if not self.context:
            step = 2**self.levels
            n = -(-output_length // step) * step
            return Geometry(n, n, 0, 0)
        # Valid lengths form the arithmetic progressions in(x) = a + x * 2^L and
        # out(x) = b + x * 2^L over the bottleneck length x; the smallest x is where every
        # upsampling convolution still has samples left.
        x = self._smallest_bottleneck()
        out = self._trace(self._input_length_from_bottleneck(x))[0]
        if out < output_length:
            x += -(-(output_length - out) // 2**self.levels)
        input_length = self._input_length_from_bottleneck(x)
        out, offset = self._trace(input_length)
        left = int(offset)
        return Geometry(input_length, out, left, input_length - out - left)

    def chunking(self, chunk_length: int | None = None, overlap: float = 0.25) -> Chunking:
        """With context (valid convolutions) consecutive chunks advance by a multiple of
        ``2**levels``: the network is shift-equivariant for such shifts, so chunked output
        equals one forward pass over the whole (zero-padded) track. Without context (same
        padding) chunks overlap by a margin of ``2**levels``-aligned samples on each side that
        is discarded. Either way the outputs are stitched exactly (``overlap`` is unused)."""
        block = 2**self.levels
        wanted = max(chunk_length or self.geometry.output_length, block)
        g = self.geometry_for(wanted)
        reach = max(self.geometry.context_left, self.geometry.context_right, block)
        if self.context:
            step = g.output_length // block * block
            return Chunking(g.input_length, step, g.context_left, 0, step, block, reach)
        margin = max(block, g.input_length // 4 // block * block)
        return Chunking(g.input_length + 2 * margin, g.input_length, margin, margin,
                        g.input_length, block, reach)

    def _smallest_bottleneck(self) -> int:
        x = 2
        while self._trace(self._input_length_from_bottleneck(x)) is None:
            x += 1
            if x > 2**16:
                raise ConfigError("WaveUNet: no input length gives a non-empty output for "
                                 f"levels={self.levels}, kernels {self.down_kernel}/"
                                 f"{self.up_kernel}/{self.output_kernel}")
        return x

    def _input_length_from_bottleneck(self, x: int) -> int:
        n = x + self.down_kernel - 1
        for _ in range(self.levels):
            n = 2 * n - 1 + self.down_kernel - 1
        return n

    def _invalid_length_message(self, input_length: int) -> str:
        if not self.context:
            return (f"WaveUNet without context takes inputs whose length is a multiple of "
                    f"2**levels = {2**self.levels}, got {input_length}")
        first = self._input_length_from_bottleneck(self._smallest_bottleneck())
        step = 2**self.levels
        below = first + max(0, (input_length - first) // step) * step
        return (f"WaveUNet with context cannot take {input_length} input samples: valid lengths "
                f"are {first} + k * {step} (nearest: {below}, {below + step}); "
                f"use geometry_for(output_length) to get one")

    # ----------------------------------------------------------------------------- forward
    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """Separates ``mixture`` of shape ``(batch, channels, time)`` into estimates of shape
        ``(batch, sources, channels, output_time)``."""
        return self.run(mixture)[0]

    def use_checkpointing(self, enabled: bool = True) -> None:
        # Each level's block (its convolution and LeakyReLU), down and up, and the bottleneck,
        # recomputed in the backward pass: only the blocks' inputs are kept.
        self.checkpointing = bool(enabled)

    def _block(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and torch.is_grad_enabled():
            return checkpoint(_conv_block, conv, x, use_reentrant=False)
        return _conv_block(conv, x)

    def run(self, mixture: torch.Tensor, tap: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`forward`, also returning the output map of upsampling block ``tap``
        ``(batch, features, frames)`` (None without ``tap``): heads branch off there."""
        if mixture.dim() != 3 or mixture.shape[1] != self.channels:
            raise ValueError(f"WaveUNet expects (batch, {self.channels}, time) input, "
                             f"got shape {tuple(mixture.shape)}")
        out_length = self.output_length_for(mixture.shape[-1])
        x, skips, tapped = mixture, [], None
        for conv in self.down:
            x = self._block(conv, x)
            skips.append(x)
            x = x[..., ::2]  # decimation by 2
        x = self._block(self.bottleneck, x)
        for j, (upsample, conv, skip) in enumerate(zip(self.upsample, self.up, reversed(skips))):
            x = upsample(x)
            x = torch.cat([center_crop(skip, x.shape[-1]), x], dim=1)
            x = self._block(conv, x)
            if j == tap:
                tapped = x
        x = torch.cat([center_crop(mixture, x.shape[-1]), x], dim=1)
        estimates = torch.tanh(self.output(x))
        batch, _, time = estimates.shape
        estimates = estimates.view(batch, -1, self.channels, time)
        if self.difference_output:
            rest = center_crop(mixture, time) - estimates.sum(dim=1)
            estimates = torch.cat([estimates, rest.unsqueeze(1)], dim=1)
        assert time == out_length
        return estimates, tapped
