"""HT Demucs and Hybrid Demucs generators from the ``demucs`` package (Rouard, Massa & Défossez,
"Hybrid Transformers for Music Source Separation", ICASSP 2023; Défossez, "Hybrid Spectrogram
and Waveform Source Separation", MDX 2021), wrapped behind gansep's generator interface.

``arguments`` are the wrapped class's own (``channels``, ``depth``, ``nfft``, ``t_layers`` ...);
the sources, channel count, rate and segment come from the adapter's arguments. Fine-tuning from
released weights: ``init_from`` takes the file the package saves (``demucs.states``'s layout:
``klass``, ``args``, ``kwargs``, ``state``) or a plain state dict, loaded with
``weights_only=True``.
"""

from __future__ import annotations

import importlib
from fractions import Fraction
from pathlib import Path

import torch

from gansep.errors import ConfigError
from gansep.extras import require
from gansep.models.generator import SegmentGenerator


def _upstream(name: str) -> type:
    """``demucs``'s class ``name`` (``demucs.htdemucs.HTDemucs``, ``demucs.hdemucs.HDemucs``),
    imported on first use: the package is the demucs extra."""
    require("demucs")
    module = importlib.import_module(f"demucs.{name.lower()}")
    return getattr(module, name)


class DemucsGenerator(SegmentGenerator):
    """What HT Demucs and Hybrid Demucs share: construction and the package's file layout."""

    derived = ("sources", "audio_channels", "samplerate", "segment")
    #: The class's name in the demucs package.
    upstream_name: str

    @classmethod
    def upstream_class(cls) -> type:
        return _upstream(cls.upstream_name)

    @property
    def upstream_globals(self) -> tuple:
        return (_upstream("HTDemucs"), _upstream("HDemucs"), Fraction)

    def build(self, arguments: dict) -> torch.nn.Module:
        return self.upstream_class()(list(self.sources), audio_channels=self.channels,
                             samplerate=self.sample_rate, segment=self._segment(), **arguments)

    def checkpoint_blocks(self) -> list[torch.nn.Module]:
        # Every encoder and decoder layer of both branches, and the cross-domain transformer's
        # layers where there is one (HT Demucs).
        blocks = [layer for name in ("encoder", "decoder", "tencoder", "tdecoder")
                  for layer in getattr(self.model, name, [])]
        cross = getattr(self.model, "crosstransformer", None)
        if cross is not None:
            blocks += [*cross.layers, *cross.layers_t]
        return blocks

    def _segment(self) -> Fraction:
        return Fraction(self.config["segment_length"], self.sample_rate)

    def state_from_upstream(self, loaded, path: Path) -> dict:
        if isinstance(loaded, dict) and "klass" in loaded and "state" in loaded:
            if loaded["klass"] is not self.upstream_class():
                raise ConfigError(f"init_from {path}: holds a {getattr(loaded['klass'], '__name__', loaded['klass'])}, "
                                  f"not a {self.upstream_class().__name__}")
            theirs = dict(loaded.get("kwargs") or {})
            ours = dict(self.config["arguments"], sources=list(self.sources),
                        audio_channels=self.channels, samplerate=self.sample_rate)
            differences = [f"{k} {theirs.get(k)!r} there, {v!r} here" for k, v in ours.items()
                           if k in theirs and theirs[k] != v]
            differences += [f"{k} {v!r} there, the default here" for k, v in theirs.items()
                            if k not in ours and k not in ("segment",)
                            and v != self._default(k)]
            if differences:
                raise ConfigError(f"init_from {path}: its {self.upstream_class().__name__} differs from "
                                  "this run's: " + "; ".join(differences))
            if loaded["state"].get("__quantized"):
                raise ConfigError(f"init_from {path}: quantized (diffq) weights are not "
                                  "supported; use an unquantized model")
            loaded = loaded["state"]
        return super().state_from_upstream(loaded, path)

    def _default(self, key: str):
        import inspect

        parameter = inspect.signature(self.upstream_class()).parameters.get(key)
        return None if parameter is None else parameter.default


class HTDemucs(DemucsGenerator):
    """Hybrid Transformer Demucs (``demucs.htdemucs.HTDemucs``): a waveform and a spectrogram
    U-Net joined by a cross-domain transformer. Its positional embeddings tie it to its
    training segment (it refuses longer inputs), so whole tracks are separated in segments of
    ``segment_length`` at most (cross-faded); the released ``htdemucs`` uses 7.8 s segments at
    44.1 kHz.
    """

    upstream_name = "HTDemucs"

    def separate_segment(self, mixture: torch.Tensor) -> torch.Tensor:
        estimates = self.model(mixture)
        # HTDemucs remembers the length of its last training input as its segment: keep it at
        # the configured one, whatever length a caller trains on.
        self.model.segment = self._segment()
        return estimates


class HDemucs(DemucsGenerator):
    """Hybrid Demucs v3 (``demucs.hdemucs.HDemucs``): waveform and spectrogram U-Nets with a
    shared bottleneck, without a transformer; takes inputs of any length."""

    upstream_name = "HDemucs"
