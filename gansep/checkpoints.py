"""Reading trained generators: training checkpoints (loaded without unpickling code) and
export folders (safetensors + a JSON description with SHA-256s), each checked for finite
weights and rebuilt from gansep's allow-listed generator classes. Below evaluation, training
and export, which all read them; [`gansep.export`][] writes export folders."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from gansep.atomic import sha256_file
from gansep.errors import ConfigError, GansepError
from gansep.models import build_generator
from gansep.models.generator import Generator, SegmentGenerator
from gansep.models.lora import LoRA, merge_lora

log = logging.getLogger(__name__)


class CheckpointError(GansepError, ValueError):
    """A file that is not a usable gansep checkpoint; the message names it."""


def load_checkpoint_file(path: str | Path, map_location="cpu") -> dict:
    """Loads a torch checkpoint without unpickling code (``weights_only=True``). A missing,
    truncated or foreign file, or one whose pickle names code to run, is a CheckpointError
    that says so (and never suggests loading it unsafely)."""
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
    """Loads a gansep Lightning checkpoint with [`load_checkpoint_file`][]."""
    checkpoint = load_checkpoint_file(path)
    if "gansep" not in checkpoint:
        raise CheckpointError(f"{path}: not a gansep checkpoint (no 'gansep' entry: it was not "
                              "written by gansep's Separator or GANSeparator)")
    return checkpoint


def weights_digest(source: str | Path) -> str:
    """The SHA-256 that identifies a run's starting weights: of the file (a checkpoint, an
    upstream state dict) or of an export folder's weights file."""
    source = Path(source)
    return sha256_file(source / WEIGHTS if source.is_dir() else source)


def generator_from_checkpoint(path: str | Path, ema: bool = True,
                              base: str | Path | None = None) -> tuple[torch.nn.Module, dict]:
    """The generator of a training checkpoint, with its EMA weights when the checkpoint has
    them and ``ema`` is true; low-rank adapters merged into plain weights. A checkpoint that
    holds only the weights that trained (``save_frozen: false``) needs ``base``, the weights
    its run started from (checked by SHA-256). Returns the network (eval mode) and the
    checkpoint's gansep entry plus ``global_step`` and ``weights`` (``ema`` or ``raw``)."""
    checkpoint = read_checkpoint(path)
    info = dict(checkpoint["gansep"])
    try:
        generator = build_generator(info.get("generator_class", "gansep.models.WaveUNet"),
                                    info["generator"])
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: generator configuration unusable ({error})") from None
    record = info.get("base")
    if record is not None:
        _load_base(generator, path, record, base)
    lora = info.get("lora")
    if lora is not None:  # the adapted network, its adapters merged below
        try:
            LoRA(**lora).apply(generator)
        except (TypeError, ConfigError) as error:
            raise CheckpointError(f"{path}: its lora entry is unusable ({error})") from None
    state = checkpoint.get("state_dict", {})
    prefix = "ema.module." if ema and any(k.startswith("ema.module.") for k in state) else "generator."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    check_finite_weights(weights, f"{path} ({'EMA' if prefix.startswith('ema') else 'raw'} "
                                  "generator weights)")
    if record is not None:  # the frozen tensors are the base's, loaded above
        own = generator.state_dict()
        left_out = sorted(set(own) - set(weights))
        if left_out != sorted(record.get("tensors", [])):
            raise CheckpointError(f"{path}: {len(left_out)} generator tensor(s) missing, but "
                                  f"its base record lists {len(record.get('tensors', []))} "
                                  "frozen ones: the file is damaged")
        weights.update({key: own[key] for key in left_out})
    try:
        generator.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: generator weights do not match its configuration "
                              f"({str(error).splitlines()[0]})") from None
    merge_lora(generator)  # plain weights: evaluation, export and init_from see no adapters
    info.update(global_step=checkpoint.get("global_step"),
                weights="ema" if prefix.startswith("ema") else "raw")
    return generator.eval(), info


def _load_base(generator, path, record: dict, base: str | Path | None) -> None:
    """Loads the base weights of a checkpoint that holds only the weights that trained."""
    try:
        where, digest = str(record["init_from"]), str(record["sha256"])
    except (KeyError, TypeError):
        raise CheckpointError(f"{path}: its base record is damaged") from None
    if base is None:
        raise CheckpointError(f"{path}: holds only the weights that trained (save_frozen: "
                              f"false); the frozen ones are those of {where} (SHA-256 "
                              f"{digest[:12]}...): give it as the base (--base)")
    if not Path(base).exists():
        raise CheckpointError(f"--base {base}: not found")
    if weights_digest(base) != digest:
        raise CheckpointError(f"--base {base}: SHA-256 {weights_digest(base)[:12]}..., but "
                              f"{path} was trained from {where} with {digest[:12]}...: not "
                              "its base")
    initialise_from(generator, base, bool(record.get("ema", True)))


# ----------------------------------------------------------------------------- exports
WEIGHTS, CONFIG, TORCHSCRIPT, ONNX = "model.safetensors", "separator.json", "separator.ts", \
    "separator.onnx"
VOCABULARY = "vocabulary.characters"
FORMAT = "gansep-separator/1"
# The SHA-256 of the JSON description itself (every other key, canonically serialised):
# an edited separator.json is caught, not silently obeyed.
DIGEST = "description_sha256"


def description_digest(config: dict) -> str:
    body = {k: v for k, v in config.items() if k != DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _check_digest(config: dict, path: Path) -> None:
    """CheckpointError unless the description is of this format and its own digest holds."""
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r}, expected {FORMAT!r}")
    if DIGEST not in config:
        log.warning("%s: written by an older gansep without %s; its own integrity is not "
                    "checked, only its consistency", path, DIGEST)
    elif config[DIGEST] != description_digest(config):
        raise CheckpointError(f"{path}: edited after export (its {DIGEST} does not match its "
                              "content): re-export the checkpoint rather than edit the file")


def _check_consistency(config: dict, generator: torch.nn.Module, path: Path) -> None:
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


def read_export(folder: str | Path) -> tuple[torch.nn.Module, dict]:
    """The generator (eval mode) and JSON description of an export folder written by
    [`gansep.export.export_separator`][] (or ``gansep export``): safetensors weights and JSON
    only, nothing unpickled; every listed file's SHA-256 and the description's own digest are
    checked, and the description must agree with the network it builds."""
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
    return generator.eval(), config


# ----------------------------------------------------------------------- init_from
def _is_gansep_checkpoint(path: Path) -> bool:
    try:
        return path.suffix != ".safetensors" and "gansep" in load_checkpoint_file(path)
    except CheckpointError:
        return False


def initialise_from(generator: Generator, source: str | Path, ema: bool = True) -> None:
    """Loads into ``generator`` the weights of a gansep checkpoint or export folder, or, for
    an adapter ([`SegmentGenerator`][gansep.models.generator.SegmentGenerator]), a state dict of the
    wrapped model as its own package saves it; a ConfigError names every architecture setting
    or tensor that differs."""
    source = Path(source)
    if isinstance(generator, SegmentGenerator) and source.is_file() \
            and not _is_gansep_checkpoint(source):
        generator.load_upstream(source)
        check_finite_weights(generator.state_dict(), f"init_from {source}")
        log.info("generator initialised from %s (%s weights)", source,
                 generator.upstream_class().__name__)
        return
    if source.is_dir():
        trained, what = read_export(source)[0], "export"
    else:
        trained, info = generator_from_checkpoint(source, ema=ema)
        what = f"{info['weights']} weights at step {info['global_step']}"
    differences = [f"{key} {trained.config.get(key)!r} there, {value!r} here"
                   for key, value in generator.config.items() if trained.config.get(key) != value]
    if differences:
        raise ConfigError(f"init_from {source}: its generator differs from this run's: "
                          + "; ".join(differences))
    generator.load_state_dict(trained.state_dict())
    log.info("generator initialised from %s (%s)", source, what)
