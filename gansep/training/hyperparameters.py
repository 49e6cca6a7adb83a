"""A checkpoint's hyper-parameters are data, not a program: every class or callable they name
must be one of gansep's allow-listed classes, or the checkpoint is refused.

LightningCLI rebuilds the module of ``--ckpt_path CKPT`` from the checkpoint's
``hyper_parameters`` (class paths and arguments, as jsonargparse writes them), and jsonargparse
imports and calls whatever a ``class_path``, a ``_class_path`` or a dotted name given for a
callable option says. It also reads a string as a configuration: YAML or JSON text, or the
path of a file that holds some (a sub-config), whose class paths it then imports. A run
configuration given with ``--config`` may do all that (a config is a program, written by the
person who runs it); a checkpoint is a file that people share, so `check_hyperparameters`
allows only the classes listed in `allowed_classes`, and no string that jsonargparse would
read as a configuration (text or a file). `unsafe_entries` with ``strings=False`` checks a
configuration after jsonargparse has resolved it, class paths only.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import torch
import yaml

from gansep import data, losses, models, training
from gansep.errors import GansepError
from gansep.eval import metrics
from gansep.plugins import HOW_TO_REGISTER, plugin_classes
from gansep.models import discriminators

# A dotted Python name ("os.system", "torch.optim.Adam"): what jsonargparse would import.
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
# What Lightning records to rebuild a module from its hyper-parameters, and nothing else.
INSTANTIATOR = "pytorch_lightning.cli.instantiate_module"
# Endings of the files jsonargparse reads as configurations.
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".jsonnet")


class UnsafeCheckpoint(GansepError, ValueError):
    """A checkpoint whose hyper-parameters name code outside gansep's allow-list."""


@lru_cache(maxsize=1)
def allowed_classes() -> dict[str, type]:
    """``{class path: class}`` that a checkpoint's hyper-parameters may name: gansep's
    generators, discriminators, losses, metrics, training modules and data classes (by the
    paths gansep's configs use, e.g. ``gansep.losses.L1``), the classes installed plugins
    export (`gansep.plugins`), and torch's optimisers and learning-rate schedulers."""
    allowed = dict(plugin_classes())
    for module in (models, discriminators, losses, metrics, training, data):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type):
                allowed[f"{module.__name__}.{name}"] = value
                allowed[f"{value.__module__}.{value.__qualname__}"] = value
    for module, base in ((torch.optim, torch.optim.Optimizer),
                         (torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler)):
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, base) and value is not base:
                allowed[f"{module.__name__}.{name}"] = value
    return allowed


def _names_code(text: str) -> bool:
    """Whether a string would be imported as a dotted name: its first part is a module here."""
    if not _DOTTED.match(text):
        return False
    try:
        return importlib.util.find_spec(text.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _holds_configuration(text: str) -> bool:
    """Whether YAML/JSON ``text`` is a mapping or a list (what jsonargparse would parse)."""
    try:
        return isinstance(yaml.safe_load(text), (dict, list))
    except (yaml.YAMLError, ValueError):
        return False


def _reads_as_configuration(text: str, folders: tuple[Path, ...]) -> str | None:
    """Why jsonargparse would read the string ``text`` as a configuration (YAML or JSON text,
    or the path of a file holding some, relative to one of ``folders`` or absolute), or None
    for plain data."""
    if _holds_configuration(text):
        return "a configuration written as text"
    if text.lower().endswith(CONFIG_SUFFIXES):
        return "the path of a configuration file"
    if not text.strip() or "\0" in text or len(text) > 4096:
        return None
    for folder in folders:
        path = folder / text
        try:
            if not path.is_file():
                continue
            with path.open("rb") as handle:
                head = handle.read(1 << 20).decode()  # binary data (a .ckpt) is no config
            if path.stat().st_size > 1 << 20 or _holds_configuration(head):
                return f"the path of a configuration file ({path})"
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    return None


def unsafe_entries(value, key: str = "", strings: bool = True,
                   folders: tuple[Path, ...] = (Path("."),)) -> list[str]:
    """``"key: name"`` for every class path or dotted callable name in ``value`` (a
    hyper-parameter tree) that is not allow-listed, and (``strings``) every string that
    jsonargparse would read as a configuration: YAML/JSON text, or a file of it found
    relative to one of ``folders`` (or absolute). A checkpoint holds resolved values, never
    a configuration to read."""
    found = []
    if isinstance(value, dict):
        for name, item in value.items():
            where = f"{key}.{name}" if key else str(name)
            if name == "_instantiator":
                if item != INSTANTIATOR:
                    found.append(f"{where}: {item!r}")
            elif name in ("class_path", "_class_path"):
                if not isinstance(item, str) or item not in allowed_classes():
                    found.append(f"{where}: {item!r}")
            else:
                found.extend(unsafe_entries(item, where, strings, folders))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.extend(unsafe_entries(item, f"{key}[{index}]", strings, folders))
    elif isinstance(value, str) and _names_code(value) and value not in allowed_classes():
        found.append(f"{key}: {value!r}")
    elif isinstance(value, str) and strings:
        reason = _reads_as_configuration(value, folders)
        if reason:
            shown = value if len(value) <= 80 else value[:77] + "..."
            found.append(f"{key}: {shown!r} ({reason})")
    return found


def _refuse(path, found: list[str]) -> None:
    if found:
        raise UnsafeCheckpoint(
            f"{path}: refused: its hyper-parameters name code that is not one of gansep's "
            f"allowed classes, or a configuration to read ({'; '.join(found[:5])}"
            f"{' ...' if len(found) > 5 else ''}); a checkpoint is data and may name only "
            "gansep's generators, discriminators, losses and modules, installed plugins' "
            "classes and torch's optimisers and schedulers, with their values written out; "
            + HOW_TO_REGISTER)


def check_hyperparameters(checkpoint: dict, path) -> None:
    """Refuses (`UnsafeCheckpoint`, naming the file and the keys) a checkpoint whose
    ``hyper_parameters`` or ``datamodule_hyper_parameters`` name code gansep does not allow,
    or hold a string jsonargparse would read as a configuration (relative paths are looked
    up where jsonargparse would: the working folder and the checkpoint's own)."""
    folders = (Path("."), Path(path).parent)
    found = []
    for part in ("hyper_parameters", "datamodule_hyper_parameters"):
        found += [f"{part}.{entry}"
                  for entry in unsafe_entries(checkpoint.get(part) or {}, folders=folders)]
    _refuse(path, found)


def check_resolved_model(model: dict, path) -> None:
    """Refuses (`UnsafeCheckpoint`) a model configuration, as jsonargparse resolved it from a
    checkpoint's hyper-parameters (sub-configurations read, strings parsed), that names a
    class outside the allow-list: the check after resolution, beside the one before it."""
    _refuse(path, [f"hyper_parameters (resolved).{entry}"
                   for entry in unsafe_entries(model, strings=False)])
