"""Optional parts of gansep and the packages they need (``pip install 'gansep[NAME]'``): the
core trains, evaluates, exports and separates with Wave-U-Net; each extra adds one part. A
part used without its extra is one line naming the extra to install (`require`)."""

from __future__ import annotations

import importlib

from gansep.errors import ConfigError

#: extra: (what it adds, the modules it needs)
EXTRAS = {
    "listen": ("MUSHRA listening tests (gansep listen)",
               ("starlette", "uvicorn", "pyloudnorm")),
    "lyrics": ("lyrics transcription error rates", ("jiwer",)),
    "demucs": ("the HT Demucs and Hybrid Demucs generators", ("demucs",)),
    "roformer": ("the BS-RoFormer and Mel-band RoFormer generators", ("bs_roformer",)),
    "plots": ("figures (compare's box plots, histograms, curves)", ("matplotlib",)),
    "wandb": ("logging to Weights & Biases", ("wandb",)),
    "lora": ("low-rank adapters (model.init_args.lora)", ("peft",)),
}


class MissingExtra(ConfigError):
    """A part of gansep used without the extra that installs what it needs."""


def require(extra: str):
    """Imports the modules of ``extra`` and returns the first; `MissingExtra` (one line,
    exit 2) naming the extra when one is not installed."""
    what, modules = EXTRAS[extra]
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ImportError as error:
            raise MissingExtra(f"{what} need(s) the {extra} extra: pip install "
                               f"'gansep[{extra}]' (or 'gansep[all]'); {error}") from None
    return loaded[0]
