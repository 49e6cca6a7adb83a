"""Reading generators out of training checkpoints (and, with the export command, writing
self-describing separators)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gansep.atomic import sha256_file
from gansep.errors import GansepError
from gansep.models import build_generator, generator_class_path
from gansep.models.waveunet import WaveUNet

log = logging.getLogger(__name__)


class CheckpointError(GansepError, ValueError):
    """A file that is not a usable gansep checkpoint; the message names it."""


def load_checkpoint_file(path: str | Path, map_location="cpu") -> dict:
    """Loads a torch checkpoint without unpickling code (``weights_only=True``). A missing,
    truncated or foreign file, or one whose pickle names code to run, is a CheckpointError
    that says so (and never suggests loading it unsafely)."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file"
                              + (" (it is a folder)" if path.is_dir() else ""))
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - every failure is the file's
        # torch's own message advises weights_only=False: never relay it.
        if isinstance(error, pickle.UnpicklingError) and "global" in str(error).lower():
            raise CheckpointError(f"{path}: not a loadable checkpoint: it holds pickled objects "
                                  "other than tensors and plain data (code to run), and gansep "
                                  "never unpickles code") from None
        kind = "truncated or damaged" if path.stat().st_size else "empty"
        raise CheckpointError(f"{path}: not a readable checkpoint ({kind} file, or not written "
                              "by torch.save)") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(checkpoint).__name__}, "
                              "not a dict)")
    return checkpoint


def check_finite_weights(state: dict, where) -> None:
    """CheckpointError naming ``where`` and the tensors of ``state`` (a state dict) that hold
    NaN or infinite values: such a network's every output is undefined."""
    bad = [name for name, value in state.items()
           if torch.is_tensor(value) and value.is_floating_point()
           and not bool(torch.isfinite(value).all())]
    if bad:
        raise CheckpointError(f"{where}: {len(bad)} weight tensor(s) hold NaN or infinite "
                              f"values (e.g. {bad[0]}): the training diverged or the file was "
                              "damaged; refused")


def read_checkpoint(path: str | Path) -> dict:
    """Loads a gansep Lightning checkpoint with :func:`load_checkpoint_file`."""
    checkpoint = load_checkpoint_file(path)
    if "gansep" not in checkpoint:
        raise CheckpointError(f"{path}: not a gansep checkpoint (no 'gansep' entry: it was not "
                              "written by gansep's Separator or GANSeparator)")
    return checkpoint


def generator_from_checkpoint(path: str | Path, ema: bool = True) -> tuple[WaveUNet, dict]:
    """The generator of a training checkpoint, with its EMA weights when the checkpoint has
    them and ``ema`` is true. Returns the network (eval mode) and the checkpoint's gansep
    entry plus ``global_step`` and ``weights`` (``ema`` or ``raw``)."""
    checkpoint = read_checkpoint(path)
    info = dict(checkpoint["gansep"])
    try:
        generator = build_generator(info.get("generator_class", "gansep.models.WaveUNet"),
                                    info["generator"])
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: generator configuration unusable ({error})") from None
    state = checkpoint.get("state_dict", {})
    prefix = "ema.module." if ema and any(k.startswith("ema.module.") for k in state) else "generator."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    check_finite_weights(weights, f"{path} ({'EMA' if prefix.startswith('ema') else 'raw'} "
                                  "generator weights)")
    try:
        generator.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: generator weights do not match its configuration "
                              f"({str(error).splitlines()[0]})") from None
    info.update(global_step=checkpoint.get("global_step"),
                weights="ema" if prefix.startswith("ema") else "raw")
    return generator.eval(), info


# ----------------------------------------------------------------------------- export
WEIGHTS, CONFIG, TORCHSCRIPT, ONNX = "model.safetensors", "separator.json", "separator.ts", \
    "separator.onnx"
VOCABULARY = "vocabulary.characters"
FORMAT = "gansep-separator/1"
# The SHA-256 of the JSON description itself (every other key, canonically serialised):
# an edited separator.json is caught, not silently obeyed.
DIGEST = "description_sha256"
# Output seconds per forward pass when separating files: long chunks amortise the valid
# convolutions' input context (M4: 131054 context samples for 16389 nominal outputs).
CHUNK_SECONDS = 10.0


def export_separator(checkpoint: str | Path, out: str | Path, ema: bool = True,
                     onnx: bool = False) -> dict:
    """Writes the generator of ``checkpoint`` (EMA weights when kept and ``ema``) to ``out``
    with :func:`write_separator`. Returns the separator's JSON description."""
    generator, info = generator_from_checkpoint(checkpoint, ema=ema)
    provenance = {"trained_with": info.get("version"), "objective": info.get("objective"),
                  "step": info.get("global_step"), "weights": info["weights"],
                  "checkpoint": str(Path(checkpoint).resolve())}
    return write_separator(generator, out, provenance, onnx)


def write_separator(generator: WaveUNet, out: str | Path, provenance: dict | None = None,
                    onnx: bool = False) -> dict:
    """Writes ``generator`` to the folder ``out``: weights as safetensors, a JSON that
    rebuilds it (architecture, rate, channels, sources, lengths and context, provenance, every
    file's SHA-256), a TorchScript module traced at the nominal input length and, with
    ``onnx`` and the onnx package installed, an ONNX file. Every file is written atomically."""
    import json
    import warnings

    from safetensors.torch import save_file

    from gansep import __version__

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"{out}: exists and is not a folder")
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
    config[DIGEST] = _description_digest(config)
    _atomic(out / CONFIG, lambda tmp: Path(tmp).write_text(json.dumps(config, indent=1)))
    return config


def _description_digest(config: dict) -> str:
    import hashlib
    import json

    body = {k: v for k, v in config.items() if k != DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _check_digest(config: dict, path: Path) -> None:
    """CheckpointError unless the description is of this format and its own digest holds."""
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r}, expected {FORMAT!r}")
    if DIGEST not in config:
        log.warning("%s: written by an older gansep without %s; its own integrity is not "
                    "checked, only its consistency", path, DIGEST)
    elif config[DIGEST] != _description_digest(config):
        raise CheckpointError(f"{path}: edited after export (its {DIGEST} does not match its "
                              "content): re-export the checkpoint rather than edit the file")


def _check_consistency(config: dict, generator: WaveUNet, path: Path) -> None:
    """CheckpointError unless the description's top level agrees with the network its
    ``generator.init_args`` build."""
    g = generator.geometry
    expected = {"sample_rate": generator.sample_rate, "channels": generator.channels,
                "sources": generator.sources, "input_length": g.input_length,
                "output_length": g.output_length, "context": [g.context_left, g.context_right]}
    for key, value in expected.items():
        if config.get(key) != value:
            raise CheckpointError(f"{path}: {key} is {config.get(key)!r}, but the generator "
                                  f"described in generator.init_args has {value!r}")


def _onnx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnx") is not None


def _atomic(path: Path, write) -> None:
    from gansep.atomic import atomic_target

    with atomic_target(path) as tmp:
        write(tmp)


class ExportedSeparator:
    """A separator loaded from an export folder: ``separate(waveform, sample_rate)``.

    Attributes:
        generator: the Wave-U-Net (eval mode).
        sources, sample_rate, channels: from its JSON.
        config: the whole JSON.
    """

    def __init__(self, generator: WaveUNet, config: dict):
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
        """Separates ``waveform`` (``(channels, time)`` or ``(time,)``, numpy or torch, any
        rate and channel count) into ``{source: waveform}`` with the input's shape, rate and
        type. The track is processed in chunks of ``chunk_seconds`` of output (borders are
        seamless: see :func:`gansep.eval.separate.separate`), ``batch_size`` at a time.
        ``precision="bf16"`` runs the network under bfloat16 autocast (about 3x faster on CPUs
        with AVX512-BF16, outputs within ~2e-3 of float32)."""
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        import numpy as np

        from gansep.eval.separate import separate_file_audio

        is_torch = isinstance(waveform, torch.Tensor)
        audio = waveform.detach().cpu().numpy() if is_torch else np.asarray(waveform)
        flat = audio.ndim == 1
        audio = audio[None] if flat else audio
        if audio.ndim != 2 or audio.shape[-1] == 0:
            raise ValueError(f"separate expects (channels, time) or (time,) audio, got shape "
                             f"{tuple(np.shape(waveform))}")
        device = next(self.generator.parameters()).device.type
        with torch.inference_mode(), torch.autocast(device, torch.bfloat16,
                                                    enabled=precision == "bf16"):
            estimates = separate_file_audio(self.generator, audio.astype(np.float32),
                                            sample_rate, batch_size, progress,
                                            int(chunk_seconds * self.sample_rate))
        out = {}
        for source, estimate in zip(self.sources, estimates):
            estimate = estimate[0] if flat else estimate
            out[source] = torch.from_numpy(estimate) if is_torch else estimate
        return out


    def lyrics_posteriors(self, waveform, sample_rate: int, batch_size: int = 1,
                          chunk_seconds: float = CHUNK_SECONDS) -> tuple:
        """The lyrics head's ``log_probs`` ``(frames, classes)`` (float32 tensor) and their
        ``times`` (seconds, float64) over ``waveform`` (``(channels, time)`` or ``(time,)``,
        any rate). ValueError for a separator without a lyrics head."""
        import numpy as np

        from gansep.eval.separate import separate, to_model_input

        if not hasattr(self.generator, "separate_and_transcribe"):
            raise ValueError("this separator has no lyrics head (it was not trained with "
                             "gansep.models.LyricsWaveUNet)")
        audio = np.asarray(waveform.detach().cpu() if isinstance(waveform, torch.Tensor)
                           else waveform, dtype=np.float32)
        audio = audio[None] if audio.ndim == 1 else audio
        model_input = to_model_input(self.generator, audio, sample_rate)
        device = next(self.generator.parameters()).device
        with torch.inference_mode():
            _, log_probs, times = separate(self.generator,
                                           torch.from_numpy(model_input).to(device),
                                           batch_size, int(chunk_seconds * self.sample_rate),
                                           transcribe=True)
        return log_probs.float().cpu(), times

    def transcribe(self, waveform, sample_rate: int, beam: int = 0, batch_size: int = 1,
                   chunk_seconds: float = CHUNK_SECONDS) -> dict:
        """The lyrics the separator's head hears in ``waveform`` (``(channels, time)`` or
        ``(time,)``, any rate): ``{"text", "words": [(word, start, end)...], "log_probs"
        (frames, classes), "times" (frames,)}``; greedy decoding, or prefix beam search with
        ``beam`` > 0. ValueError for a separator without a lyrics head."""
        from gansep.eval.transcribe import beam_search_decode, collapse, greedy_path, word_times

        log_probs, times = self.lyrics_posteriors(waveform, sample_rate, batch_size,
                                                  chunk_seconds)
        vocabulary = self.generator.vocabulary
        path = greedy_path(log_probs)
        labels = beam_search_decode(log_probs, beam) if beam > 0 else collapse(path)
        text = vocabulary.decode(labels)
        return {"text": " ".join(text.split()), "words": word_times(path, times, vocabulary),
                "log_probs": log_probs, "times": times}


def load_separator(folder: str | Path, device: str = "cpu") -> ExportedSeparator:
    """Loads an export folder written by :func:`export_separator` (or ``gansep export``):
    safetensors weights and JSON only, nothing unpickled; the weights' SHA-256 is checked."""
    import json

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config_path = folder / CONFIG
    if not config_path.is_file():
        raise CheckpointError(f"{folder}: not a gansep separator folder (no {CONFIG})")
    try:
        config = json.loads(config_path.read_text())
        init_args = dict(config["generator"]["init_args"])
        hashes = {name: config["sha256"][name] for name in config["files"].values()}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
            AttributeError) as error:
        raise CheckpointError(f"{config_path}: damaged separator description "
                              f"({type(error).__name__}: {error})") from None
    if WEIGHTS not in hashes:
        raise CheckpointError(f"{config_path}: damaged separator description (no {WEIGHTS})")
    for name, expected in hashes.items():  # every file the export wrote, not only the weights
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {CONFIG})")
        if sha256_file(path) != expected:
            raise CheckpointError(f"{path}: SHA-256 differs from {CONFIG}: the file was changed "
                                  "or truncated after export")
    _check_digest(config, config_path)
    weights = folder / WEIGHTS
    if "vocabulary" in config["files"]:
        init_args["vocabulary"] = str(folder / config["files"]["vocabulary"])
    try:
        generator = build_generator(config["generator"].get("class_path",
                                                            "gansep.models.WaveUNet"), init_args)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{config_path}: generator.init_args unusable ({error})") from None
    _check_consistency(config, generator, config_path)
    try:
        state = load_file(weights)
        generator.load_state_dict(state)
    except (SafetensorError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{weights}: cannot load ({str(error).splitlines()[0]})") from None
    check_finite_weights(state, weights)
    return ExportedSeparator(generator.eval(), config).to(device)
