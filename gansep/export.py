"""Reading generators out of training checkpoints (and, with the export command, writing
self-describing separators)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gansep.models.waveunet import WaveUNet

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A file that is not a usable gansep checkpoint; the message names it."""


def read_checkpoint(path: str | Path) -> dict:
    """Loads a Lightning checkpoint without unpickling objects (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, tampered, or not a torch file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(checkpoint, dict) or "gansep" not in checkpoint:
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
        generator = WaveUNet(**info["generator"])
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: generator configuration unusable ({error})") from None
    state = checkpoint.get("state_dict", {})
    prefix = "ema.module." if ema and any(k.startswith("ema.module.") for k in state) else "generator."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        generator.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: generator weights do not match its configuration "
                              f"({str(error).splitlines()[0]})") from None
    info.update(global_step=checkpoint.get("global_step"),
                weights="ema" if prefix.startswith("ema") else "raw")
    return generator.eval(), info
