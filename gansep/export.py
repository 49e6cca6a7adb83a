"""Self-describing separators: the generator of a training checkpoint written as safetensors
weights and a JSON description (plus TorchScript/ONNX), and loaded back for separation."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gansep.version import __version__
from gansep.atomic import atomic_target, sha256_file
from gansep.checkpoints import (CONFIG, DIGEST, FORMAT, ONNX, TORCHSCRIPT, VOCABULARY, WEIGHTS,
                                CheckpointError, check_finite_weights, description_digest,
                                generator_from_checkpoint, read_export)
from gansep.errors import ConfigError
from gansep.models import generator_class_path
from gansep.models.generator import Generator, has_frames
from gansep.separate import (CHUNK_SECONDS, channels_first, separate, separate_file_audio,
                             to_model_input)

log = logging.getLogger(__name__)



def export_separator(checkpoint: str | Path, out: str | Path, ema: bool = True,
                     onnx: bool = False, base: str | Path | None = None) -> dict:
    """Writes the generator of ``checkpoint`` (EMA weights when kept and ``ema``; ``base``:
    the starting weights of a checkpoint that holds only those that trained) to ``out`` with
    [`write_separator`][]. Returns the separator's JSON description."""
    generator, info = generator_from_checkpoint(checkpoint, ema=ema, base=base)
    provenance = {"trained_with": info.get("version"), "objective": info.get("objective"),
                  "step": info.get("global_step"), "weights": info["weights"],
                  "checkpoint": str(Path(checkpoint).resolve())}
    return write_separator(generator, out, provenance, onnx)


def write_separator(generator: Generator, out: str | Path, provenance: dict | None = None,
                    onnx: bool = False) -> dict:
    """Writes ``generator`` to the folder ``out``: weights as safetensors, a JSON that
    rebuilds it (architecture, rate, channels, sources, lengths and context, provenance, every
    file's SHA-256), a TorchScript module traced at the nominal input length and, with
    ``onnx`` and the onnx package installed, an ONNX file. Every file is written atomically."""
    import json
    import warnings

    from safetensors.torch import save_file

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"{out}: exists and is not a folder")
    if onnx and generator.onnx_refusal:
        raise ConfigError(f"--onnx: {type(generator).__name__} cannot be exported to ONNX: "
                          f"{generator.onnx_refusal}")
    generator = generator.eval()
    g = generator.geometry
    state = {k: v.detach().contiguous() for k, v in generator.state_dict().items()}
    check_finite_weights(state, f"{type(generator).__name__} to export to {out}")
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / WEIGHTS, lambda tmp: save_file(state, tmp))
    example = torch.zeros(1, generator.channels, g.input_length)
    with warnings.catch_warnings():  # shape arithmetic is constant at the traced length
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(generator, example, check_trace=False)
    _atomic(out / TORCHSCRIPT, lambda tmp: traced.save(tmp))
    files = {"weights": WEIGHTS, "torchscript": TORCHSCRIPT}
    vocabulary = getattr(generator, "vocabulary", None)
    if vocabulary is not None:
        # The characters travel with the head: a custom vocabulary file need not exist where
        # the separator is used.
        import shutil

        _atomic(out / VOCABULARY, lambda tmp: shutil.copyfile(vocabulary.path, tmp))
        files["vocabulary"] = VOCABULARY
    if onnx:
        if _onnx_available():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _atomic(out / ONNX, lambda tmp: torch.onnx.export(
                    generator, example, tmp, input_names=["mixture"],
                    output_names=["estimates"],
                    dynamic_axes={"mixture": {0: "batch"}, "estimates": {0: "batch"}},
                    dynamo=False))
            files["onnx"] = ONNX
        else:
            log.warning("--onnx: the onnx package is not installed (pip install "
                        "'gansep[onnx]'); no ONNX file written")
    config = {
        "format": FORMAT,
        "generator": {"class_path": generator_class_path(generator),
                      "init_args": generator.config},
        "sample_rate": generator.sample_rate, "channels": generator.channels,
        "sources": generator.sources,
        "input_length": g.input_length, "output_length": g.output_length,
        "context": [g.context_left, g.context_right], "gansep_version": __version__,
        **(provenance or {}),
        "files": files, "sha256": {name: sha256_file(out / name) for name in files.values()},
    }
    config[DIGEST] = description_digest(config)
    _atomic(out / CONFIG, lambda tmp: Path(tmp).write_text(json.dumps(config, indent=1)))
    return config


def _onnx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnx") is not None


def _atomic(path: Path, write) -> None:
    with atomic_target(path) as tmp:
        write(tmp)


class ExportedSeparator:
    """A separator loaded from an export folder: ``separate(waveform, sample_rate)``.

    Attributes:
        generator: the network (eval mode).
        sources, sample_rate, channels: from its JSON.
        config: the whole JSON.
    """

    def __init__(self, generator: Generator, config: dict):
        self.generator = generator
        self.config = config
        self.sources = list(generator.sources)
        self.sample_rate = generator.sample_rate
        self.channels = generator.channels

    def to(self, device: str | torch.device) -> "ExportedSeparator":
        self.generator.to(device)
        return self

    def separate(self, waveform, sample_rate: int, batch_size: int = 1,
                 progress: bool = False, chunk_seconds: float = CHUNK_SECONDS,
                 precision: str = "fp32") -> dict:
        """Separates ``waveform`` (``(channels, time)``, ``(time, channels)`` as soundfile
        reads it, or ``(time,)``; numpy or torch, any rate and channel count) into ``{source:
        waveform}`` with the input's shape, layout, rate and type (the layout is decided by
        [`gansep.separate.channels_first`][], which says when it took ``(time, channels)``). The track is processed in chunks of ``chunk_seconds`` of output (borders are
        seamless: see [`gansep.separate.separate`][]), ``batch_size`` at a time.
        ``precision="bf16"`` runs the network under bfloat16 autocast (about 3x faster on CPUs
        with AVX512-BF16, outputs within ~2e-3 of float32)."""
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        import numpy as np

        is_torch = isinstance(waveform, torch.Tensor)
        audio = waveform.detach().cpu().numpy() if is_torch else np.asarray(waveform)
        flat = audio.ndim == 1
        audio = audio[None] if flat else audio
        if audio.ndim != 2 or 0 in audio.shape:
            raise ValueError(f"separate expects (channels, time), (time, channels) or (time,) "
                             f"audio, got shape {tuple(np.shape(waveform))}")
        transposed = False
        if not flat:
            audio, transposed = channels_first(audio)
        device = next(self.generator.parameters()).device.type
        with torch.inference_mode(), torch.autocast(device, torch.bfloat16,
                                                    enabled=precision == "bf16"):
            estimates = separate_file_audio(self.generator, audio.astype(np.float32),
                                            sample_rate, batch_size, progress,
                                            int(chunk_seconds * self.sample_rate))
        out = {}
        for source, estimate in zip(self.sources, estimates):
            estimate = estimate[0] if flat else estimate.T if transposed else estimate
            out[source] = torch.from_numpy(np.ascontiguousarray(estimate)) if is_torch \
                else estimate
        return out


    def frames(self, waveform, sample_rate: int, batch_size: int = 1,
               chunk_seconds: float = CHUNK_SECONDS) -> tuple:
        """The frames of the generator's auxiliary head ``(frames, features)`` (float32
        tensor: a character head's CTC log-probabilities, say) and their ``times`` (seconds,
        float64) over ``waveform`` (``(channels, time)`` or ``(time,)``, any rate).
        ValueError for a separator whose generator has no such head."""
        import numpy as np

        if not has_frames(self.generator):
            raise ValueError(f"this separator's generator ({type(self.generator).__name__}) "
                             "has no auxiliary head that emits frames")
        audio = np.asarray(waveform.detach().cpu() if isinstance(waveform, torch.Tensor)
                           else waveform, dtype=np.float32)
        audio = audio[None] if audio.ndim == 1 else audio
        model_input = to_model_input(self.generator, audio, sample_rate)
        device = next(self.generator.parameters()).device
        with torch.inference_mode():
            _, frames, times = separate(self.generator,
                                        torch.from_numpy(model_input).to(device),
                                        batch_size, int(chunk_seconds * self.sample_rate),
                                        frames=True)
        return frames.float().cpu(), times


def load_separator(folder: str | Path, device: str = "cpu") -> ExportedSeparator:
    """Loads an export folder written by [`export_separator`][] (or ``gansep export``):
    safetensors weights and JSON only, nothing unpickled (see
    [`gansep.checkpoints.read_export`][])."""
    return ExportedSeparator(*read_export(folder)).to(device)
