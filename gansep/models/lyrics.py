"""A Wave-U-Net that separates and transcribes lyrics (Stoller, Durand & Ewert, ICASSP 2019):
a character head branches off the upsampling block whose frame rate is nearest
``lyrics_rate`` (about 23 frames/s: a character CTC model can emit at most one character per
frame) and predicts the characters of a `Vocabulary` plus the CTC
blank at every frame of that block."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gansep.data.lyrics import vocabulary as load_vocabulary
from gansep.errors import ConfigError
from gansep.models.waveunet import LEAKY_SLOPE, WaveUNet


class LyricsHead(nn.Module):
    """Frame-wise character log-probabilities from a feature map: a 3-frame convolution, a
    LeakyReLU and a 1x1 convolution to the classes. ``(batch, features, frames)`` in,
    ``(batch, frames, classes)`` log-probabilities out."""

    def __init__(self, features: int, hidden: int, classes: int):
        super().__init__()
        self.hidden = nn.Conv1d(features, hidden, 3, padding=1)
        self.classes = nn.Conv1d(hidden, classes, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.hidden(features), LEAKY_SLOPE)
        return F.log_softmax(self.classes(x).transpose(1, 2).float(), dim=-1)


class LyricsWaveUNet(WaveUNet):
    """A [`WaveUNet`][] with a lyrics head. Separation (``forward``) is unchanged;
    `separate_with_frames` also returns the head's log-probabilities.

    Args:
        vocabulary: the characters predicted (a shipped vocabulary name or a ``.characters``
            file; see `gansep.data.lyrics`).
        lyrics_rate: the head branches off the upsampling block whose frame rate (Hz) is
            nearest this (``gansep describe`` prints the block and its exact rate).
        lyrics_hidden: channels of the head's hidden layer.
        Other arguments: as [`WaveUNet`][].
    """

    def __init__(self, sources: Sequence[str] = ("vocals", "accompaniment"), channels: int = 2,
                 sample_rate: int = 22050, levels: int = 12, extra_filters: int = 24,
                 down_kernel: int = 15, up_kernel: int = 5, output_kernel: int = 1,
                 upsampling: str = "linear", difference_output: bool = True,
                 context: bool = True, output_length: int = 16384,
                 vocabulary: str = "english", lyrics_rate: float = 23.0,
                 lyrics_hidden: int = 64, checkpointing: bool = False):
        super().__init__(sources, channels, sample_rate, levels, extra_filters, down_kernel,
                         up_kernel, output_kernel, upsampling, difference_output, context,
                         output_length, checkpointing)
        if not lyrics_rate > 0:
            raise ConfigError(f"LyricsWaveUNet: lyrics_rate must be positive Hz, got "
                              f"{lyrics_rate!r}")
        if not isinstance(lyrics_hidden, int) or lyrics_hidden < 1:
            raise ConfigError(f"LyricsWaveUNet: lyrics_hidden must be a positive integer, got "
                              f"{lyrics_hidden!r}")
        self.vocabulary = load_vocabulary(vocabulary)
        self.config.update(vocabulary=vocabulary, lyrics_rate=lyrics_rate,
                           lyrics_hidden=lyrics_hidden)
        blocks = self.upsampling_blocks()
        self.lyrics_block = min(range(levels), key=lambda j: abs(
            sample_rate / blocks[j].step - lyrics_rate))
        features = extra_filters * (levels - self.lyrics_block)
        self.lyrics_head = LyricsHead(features, lyrics_hidden, len(self.vocabulary))

    @property
    def frame_rate(self) -> float:
        """Frames per second of the lyrics head."""
        return self.sample_rate / self.upsampling_blocks()[self.lyrics_block].step

    def description_rows(self) -> list[tuple[str, str]]:
        """What ``gansep describe`` adds: the head's block, its exact rate, its classes."""
        times = self.frame_times()
        inside = int(((times >= 0) & (times < self.geometry.output_length / self.sample_rate))
                     .sum())
        return [("lyrics head", f"upsampling block {self.lyrics_block} of {self.levels} "
                                f"(level {self.levels - 1 - self.lyrics_block}), "
                                f"{self.frame_rate:.3f} frames/s (asked: "
                                f"{self.config['lyrics_rate']:g}); {inside} frames in the "
                                "output window"),
                ("lyrics classes", f"{len(self.vocabulary)} ({self.config['vocabulary']} "
                                   "characters + the CTC blank)")]

    def frame_times(self, input_length: int | None = None) -> torch.Tensor:
        """Time (s) of every head frame of a forward pass of ``input_length`` samples,
        relative to the first output sample (negative: in the left context)."""
        input_length = input_length or self.geometry.input_length
        block = self.upsampling_blocks(input_length)[self.lyrics_block]
        _, start = self._trace(input_length)
        positions = block.offset + block.step * torch.arange(block.length, dtype=torch.float64)
        return (positions - start) / self.sample_rate  # float64: exact at chunk borders

    def separate_with_frames(self, mixture: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(estimates (batch, sources, channels, time), log_probs (batch, frames,
        classes))`` from one pass."""
        estimates, features = self.run(mixture, tap=self.lyrics_block)
        return estimates, self.lyrics_head(features)
