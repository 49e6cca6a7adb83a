"""The generator interface every separator implements, and the base of the adapters that wrap
separators from other packages (HT Demucs, BS-RoFormer, ...).

A generator maps a mixture ``(batch, channels, time)`` to estimates
``(batch, sources, channels, time')`` at its ``sample_rate``. Its [`Geometry`][] says how
long one forward pass is and how much input context each output sample needs; its
[`Chunking`][] says how [`gansep.separate.separate`][] cuts a whole track into forward
passes and joins their outputs. The data sampling, separation, validation, evaluation, export
and ``describe`` use only this interface.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gansep.errors import ConfigError
from gansep.names import plain_name_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Geometry:
    """Lengths, in samples at the model's rate, of one forward pass."""

    input_length: int
    output_length: int
    context_left: int
    context_right: int


@dataclass(frozen=True)
class Chunking:
    """How a whole track is cut into forward passes (see [`gansep.separate.separate`][]).

    Chunk ``k`` reads the track (zero-padded by ``pad_left`` on the left) from ``k * step``
    for ``input_length`` samples; the slice ``[keep_start, keep_start + keep_length)`` of its
    output covers the track from ``k * step``. Consecutive kept slices overlap by
    ``keep_length - step`` samples (the cross-fade; 0 for exact stitching), where the earlier
    fades out and the later fades in with linear ramps that sum to one.

    ``alignment`` (track samples) and ``reach`` (samples each side) tell
    [`gansep.separate.stream_segments`][] where a segment may start and how much margin it
    needs so that streaming gives what one whole-track pass gives.
    """

    input_length: int
    step: int
    pad_left: int
    keep_start: int
    keep_length: int
    alignment: int
    reach: int

    @property
    def fade(self) -> int:
        return self.keep_length - self.step

    def windows(self, chunks: int) -> torch.Tensor:
        """``(chunks, keep_length)`` weights: ones, with a fade-in over the first ``fade``
        samples (but for the first chunk) and a fade-out over the last ``fade`` (but for the
        last); where two chunks overlap their weights sum to one."""
        weights = torch.ones(chunks, self.keep_length, dtype=torch.float64)
        if self.fade > 0 and chunks > 1:
            ramp = (torch.arange(self.fade, dtype=torch.float64) + 0.5) / self.fade
            weights[1:, : self.fade] = ramp
            weights[:-1, -self.fade:] = 1 - ramp
        return weights


class Generator(nn.Module):
    """A separation network: ``forward(mixture (batch, channels, time)) -> (batch, sources,
    channels, time')``.

    Attributes every generator has:
        sources, channels, sample_rate: what it separates, and at which rate.
        config: the constructor arguments (plain data: checkpoints and exports rebuild it
            from them).
        geometry: the nominal forward pass (training excerpts use it).

    A generator with an auxiliary head that emits frames beside the estimates (the lyrics
    head of `LyricsWaveUNet`) also has ``separate_with_frames(mixture) -> (estimates,
    frames (batch, frames, features))`` from one pass and ``frame_times(input_length)``,
    the time of each frame relative to the pass's first output sample ([`has_frames`][]);
    separation, export and evaluation carry the frames along without knowing the task.
    """

    sources: list[str]
    channels: int
    sample_rate: int
    config: dict
    geometry: Geometry
    #: Why ``gansep export --onnx`` cannot export this network (None: it can).
    onnx_refusal: str | None = None

    #: The constructor argument (in ``config``) that sets a training excerpt's length.
    length_argument = "segment_length"

    def length_value(self) -> int:
        """The value of `length_argument` this generator was built with (a method, not a
        property: torch.jit.trace probes attributes with hasattr, and a generator without the
        argument must not fail there)."""
        return self.config[self.length_argument]

    def valid_length(self, samples: int) -> int:
        """The smallest valid value of `length_argument` whose output has at least
        ``samples`` samples (the memory probes of `gansep.training.memory` scale it)."""
        return self.geometry_for(max(1, int(samples))).input_length

    def geometry_for(self, output_length: int) -> Geometry:
        """The smallest forward pass whose output has at least ``output_length`` samples."""
        raise NotImplementedError

    def chunking(self, chunk_length: int | None = None, overlap: float = 0.25) -> Chunking:
        """How [`gansep.separate.separate`][] cuts a track into passes of about
        ``chunk_length`` output samples (default: the nominal geometry); ``overlap`` is the
        cross-fade's share of a chunk for generators that need one."""
        raise NotImplementedError

    def activation_bytes(self, input_length: int | None = None) -> int | None:
        """Estimated float32 bytes of one training example's activations (None: unknown)."""
        return None

    def description_rows(self) -> list[tuple[str, str]]:
        """Extra rows for ``gansep describe``."""
        return []

    def checkpoint_blocks(self) -> list[nn.Module]:
        """The blocks whose activations `use_checkpointing` recomputes in the backward pass
        (each family names its own: Wave-U-Net's levels, the wrapped models' layers)."""
        return []

    def use_checkpointing(self, enabled: bool = True) -> None:
        """Activation checkpointing of `checkpoint_blocks` in training (the ``checkpointing``
        argument of every generator family): not part of ``config``, which describes the
        network, so exports and ``init_from`` ignore it."""
        if enabled:
            from gansep.models.checkpointing import checkpoint_blocks

            blocks = self.checkpoint_blocks()
            if not blocks:
                raise ConfigError(f"{type(self).__name__}: checkpointing is not available "
                                  "(no blocks to recompute)")
            checkpoint_blocks(blocks)


def has_frames(generator) -> bool:
    """Whether ``generator`` has an auxiliary head that emits frames (see [`Generator`][])."""
    return callable(getattr(generator, "separate_with_frames", None))


def source_problems(sources) -> list[str]:
    """What is wrong with a generator's ``sources``: they must be distinct plain names, since
    each becomes a file name (``<source>.wav``) wherever estimates are written."""
    if isinstance(sources, str) or len(sources) < 1 or len(set(sources)) != len(sources):
        return [f"sources must be distinct names, got {sources!r}"]
    return [f"sources: {problem}" for problem in map(plain_name_problem, sources) if problem]


def _checked_common(sources, channels, sample_rate, segment_length) -> list[str]:
    problems = source_problems(sources)
    for key, value in [("channels", channels), ("sample_rate", sample_rate),
                       ("segment_length", segment_length)]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{key} must be a positive integer, got {value!r}")
    return problems


class SegmentGenerator(Generator):
    """Base of the adapters around separators that map a segment to the same span without
    input context (HT Demucs, BS-RoFormer, Mel-band RoFormer). Whole tracks are separated in
    overlapping segments joined by a linear cross-fade, as Demucs's ``apply_model`` does.

    A subclass sets `upstream` (the wrapped class), builds ``self.model`` in
    `build`, and maps shapes in `separate_segment`. ``arguments`` are the wrapped
    class's own keyword arguments, checked against its signature.

    Args:
        sources: the source names, in the order of the outputs.
        channels: audio channels of mixture and estimates.
        sample_rate: Hz.
        segment_length: samples of one training excerpt and of one separation chunk.
        arguments: keyword arguments of the wrapped model (its sizes).
        checkpointing: recompute the wrapped model's layers' activations in the backward
            pass (`gansep.models.checkpointing`): less memory, more compute.
    """

    #: The wrapped class (e.g. demucs.htdemucs.HTDemucs); see `upstream_class`.
    upstream: type
    #: Input lengths a forward pass takes are multiples of this (e.g. the STFT hop).
    length_multiple = 1
    #: Keys of ``arguments`` the adapter sets itself from sources/channels/sample_rate.
    derived: tuple[str, ...] = ()
    #: Classes other than tensors an upstream checkpoint file may name (its pickle's globals).
    upstream_globals: tuple = ()
    onnx_refusal = ("it computes complex STFTs (torch.stft/istft with complex values), which "
                    "torch's ONNX exporter does not support; TorchScript and safetensors work")

    def __init__(self, sources: Sequence[str] = ("vocals", "accompaniment"), channels: int = 2,
                 sample_rate: int = 44100, segment_length: int = 44100 * 8,
                 arguments: dict | None = None, checkpointing: bool = False):
        super().__init__()
        name = type(self).__name__
        problems = _checked_common(sources, channels, sample_rate, segment_length)
        arguments = dict(arguments or {})
        upstream = self.upstream_class()
        accepted = inspect.signature(upstream).parameters
        unknown = sorted(k for k in arguments if k not in accepted or k in self.derived)
        if unknown:
            problems.append(
                f"arguments: {', '.join(unknown)} not accepted (of "
                f"{upstream.__module__}.{upstream.__name__}'s arguments, "
                + (f"{', '.join(self.derived)} come from sources, channels and sample_rate"
                   if self.derived else "see its signature") + ")")
        if problems:
            raise ConfigError(f"{name}: " + "; ".join(problems))
        self.config = dict(sources=list(sources), channels=channels, sample_rate=sample_rate,
                           segment_length=segment_length, arguments=arguments)
        self.sources, self.channels, self.sample_rate = list(sources), channels, sample_rate
        try:
            self.model = self.build(arguments)
        except (TypeError, ValueError, AssertionError) as error:
            raise ConfigError(f"{name}: {upstream.__name__} refused its arguments "
                              f"({type(error).__name__}: {error})") from None
        self.geometry = self.geometry_for(segment_length)
        if self.geometry.input_length != segment_length:
            raise ConfigError(f"{name}: segment_length must be a multiple of "
                              f"{self.length_multiple}, got {segment_length} (nearest: "
                              f"{self.geometry.input_length})")
        self.use_checkpointing(checkpointing)

    @classmethod
    def upstream_class(cls) -> type:
        """The wrapped class (a subclass whose package is slow to import imports it here)."""
        return cls.upstream

    def build(self, arguments: dict) -> nn.Module:
        raise NotImplementedError

    def separate_segment(self, mixture: torch.Tensor) -> torch.Tensor:
        """The wrapped model on ``(batch, channels, time)``, as ``(batch, sources, channels,
        time)``."""
        return self.model(mixture)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """Separates ``(batch, channels, time)`` into ``(batch, sources, channels, time)``."""
        if mixture.dim() != 3 or mixture.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__} expects (batch, {self.channels}, time) "
                             f"input, got shape {tuple(mixture.shape)}")
        time = mixture.shape[-1]
        padded = -(-time // self.length_multiple) * self.length_multiple
        estimates = self.separate_segment(F.pad(mixture, (0, padded - time)))
        return estimates[..., :time]

    def geometry_for(self, output_length: int) -> Geometry:
        n = max(1, -(-int(output_length) // self.length_multiple)) * self.length_multiple
        return Geometry(n, n, 0, 0)

    def max_chunk_length(self) -> int:
        """The longest chunk whole tracks are separated in: the training segment, as Demucs's
        ``apply_model`` does (a transformer's attention span stays the one it learned)."""
        return self.config["segment_length"]

    def chunking(self, chunk_length: int | None = None, overlap: float = 0.25) -> Chunking:
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        length = self.geometry_for(chunk_length or self.geometry.output_length).input_length
        length = min(length, self.max_chunk_length())
        fade = int(overlap * length)
        step = length - fade
        return Chunking(input_length=length, step=step, pad_left=0, keep_start=0,
                        keep_length=length, alignment=step, reach=length)

    # ----------------------------------------------------------------------- upstream weights
    def upstream_state(self, path: str | Path) -> dict:
        """The wrapped model's state dict from ``path``: a safetensors file, or a torch file
        (a plain state dict, or the layout the upstream package saves) loaded with
        ``weights_only=True`` (nothing but tensors, plain data and `upstream_globals`
        is unpickled). ConfigError naming the file otherwise."""
        path = Path(path)
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            try:
                return load_file(path)
            except Exception as error:  # noqa: BLE001 - the file's fault
                raise ConfigError(f"{path}: cannot read safetensors ({error})") from None
        try:
            with torch.serialization.safe_globals(list(self.upstream_globals)):
                loaded = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except Exception as error:  # noqa: BLE001 - the file's fault
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(f"{path}: not loadable without running code ({first[:160]})"
                              ) from None
        return self.state_from_upstream(loaded, path)

    def state_from_upstream(self, loaded, path: Path) -> dict:
        """A state dict from what `upstream_state` loaded (a subclass reads its
        package's own layout)."""
        if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
            loaded = loaded["state_dict"]
        if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
            raise ConfigError(f"{path}: not a state dict of {self.upstream_class().__name__} "
                              "(expected a mapping of parameter names to tensors)")
        return loaded

    def load_upstream(self, path: str | Path) -> None:
        """Loads the weights of the wrapped model saved by its own package (see
        `upstream_state`); every missing, unexpected or mis-shaped tensor is named."""
        state = self.upstream_state(path)
        own = self.model.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = [f"{k} {tuple(state[k].shape)} there, {tuple(own[k].shape)} here"
                  for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
        problems = ([f"{len(missing)} missing (e.g. {', '.join(missing[:3])})"] if missing else []) \
            + ([f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})"]
               if unexpected else []) + ([f"shapes differ: {'; '.join(shapes[:3])}"]
                                          if shapes else [])
        if problems:
            raise ConfigError(f"init_from {path}: its {self.upstream_class().__name__} weights do not "
                              "fit this configuration: " + "; ".join(problems))
        self.model.load_state_dict(state)

    def description_rows(self) -> list[tuple[str, str]]:
        fade = self.chunking().fade
        upstream = self.upstream_class()
        return [("wraps", f"{upstream.__module__}.{upstream.__name__}"),
                ("separation", f"segments of {self.geometry.input_length} samples, cross-fade "
                               f"{fade} samples")]
