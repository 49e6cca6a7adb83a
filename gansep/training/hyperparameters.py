"""A checkpoint's hyper-parameters are data, not a program: every class or callable they name
must be one of gansep's allow-listed classes, or the checkpoint is refused.

LightningCLI rebuilds the module of ``--ckpt_path CKPT`` from the checkpoint's
``hyper_parameters`` (class paths and arguments, as jsonargparse writes them), and jsonargparse
imports and calls whatever a ``class_path``, a ``_class_path`` or a dotted name given for a
callable option says. A run configuration given with ``--config`` may do that (a config is a
program, written by the person who runs it); a checkpoint is a file that people share, so
`check_hyperparameters` allows only the classes listed in `allowed_classes`.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache

import torch

from gansep import data, losses, models, training
from gansep.errors import GansepError
from gansep.eval import metrics
from gansep.models import discriminators

# A dotted Python name ("os.system", "torch.optim.Adam"): what jsonargparse would import.
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
# What Lightning records to rebuild a module from its hyper-parameters, and nothing else.
INSTANTIATOR = "pytorch_lightning.cli.instantiate_module"


class UnsafeCheckpoint(GansepError, ValueError):
    """A checkpoint whose hyper-parameters name code outside gansep's allow-list."""


@lru_cache(maxsize=1)
def allowed_classes() -> dict[str, type]:
    """``{class path: class}`` that a checkpoint's hyper-parameters may name: gansep's
    generators, discriminators, losses, metrics, training modules and data classes (by the
    paths gansep's configs use, e.g. ``gansep.losses.L1``), and torch's optimisers and
    learning-rate schedulers."""
    allowed = {}
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


def unsafe_entries(value, key: str = "") -> list[str]:
    """``"key: name"`` for every class path or dotted callable name in ``value`` (a
    hyper-parameter tree) that is not allow-listed."""
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
                found.extend(unsafe_entries(item, where))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.extend(unsafe_entries(item, f"{key}[{index}]"))
    elif isinstance(value, str) and _names_code(value) and value not in allowed_classes():
        found.append(f"{key}: {value!r}")
    return found


def check_hyperparameters(checkpoint: dict, path) -> None:
    """Refuses (`UnsafeCheckpoint`, naming the file and the keys) a checkpoint whose
    ``hyper_parameters`` or ``datamodule_hyper_parameters`` name code gansep does not allow."""
    found = []
    for part in ("hyper_parameters", "datamodule_hyper_parameters"):
        found += [f"{part}.{entry}" for entry in unsafe_entries(checkpoint.get(part) or {})]
    if found:
        raise UnsafeCheckpoint(
            f"{path}: refused: its hyper-parameters name code that is not one of gansep's "
            f"allowed classes ({'; '.join(found[:5])}{' ...' if len(found) > 5 else ''}); a "
            "checkpoint is data and may name only gansep's generators, discriminators, losses "
            "and modules and torch's optimisers and schedulers")
