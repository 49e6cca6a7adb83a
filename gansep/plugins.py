"""Plugins: classes of the user's own packages that gansep's files may name.

A run config may name any class by its path (a config is a program, written by the person who
runs it). A checkpoint, an export, a fitted model or a dataset manifest is data that people
share, and may name only allow-listed classes: gansep's own, and those that an *installed
plugin* exports. A package declares a plugin module under the entry-point group
``gansep.plugins``; the classes in that module's ``__all__`` that the package itself defines
are what it exports::

    # the plugin package's pyproject.toml
    [project.entry-points."gansep.plugins"]
    mymodels = "mypackage.gansep_plugin"

Once the package is installed (``pip install -e .``), ``class_path:
mypackage.gansep_plugin.MyGenerator`` (and the class's own module path) travels in checkpoints
and exports, and ``gansep plugins`` lists it. Nothing else does: the allow-list stays as strict
as before, and installing a package is what a person does, not what a file can do.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points

log = logging.getLogger(__name__)

GROUP = "gansep.plugins"
#: What a refusal adds: how a class of one's own becomes one that files may name.
HOW_TO_REGISTER = (f"a class of your own package may be named once the package declares its "
                   f"module as a gansep plugin (entry-point group {GROUP!r}) and is installed: "
                   "see docs/extending.md")


@dataclass
class Plugin:
    """One installed plugin: its entry point, the module it names, the distribution that
    declares it, the classes it exports (by class path), and why it could not be loaded."""

    name: str
    module: str
    distribution: str | None
    classes: dict[str, type] = field(default_factory=dict)
    error: str | None = None


def _load(point) -> Plugin:
    dist = getattr(getattr(point, "dist", None), "name", None)
    plugin = Plugin(point.name, point.value, dist)
    if ":" in point.value:
        plugin.error = "an entry point of gansep.plugins names a module, not an object"
        return plugin
    package = point.value.split(".")[0]
    if package in sys.stdlib_module_names or package in ("gansep", "torch", "builtins"):
        plugin.error = f"{package} is not a plugin's own package"
        return plugin
    try:
        module = importlib.import_module(point.value)
    except Exception as error:  # noqa: BLE001 - a broken plugin must not break gansep
        plugin.error = f"cannot be imported ({type(error).__name__}: {error})"
        return plugin
    exported = getattr(module, "__all__", None)
    if not isinstance(exported, (list, tuple)) or not all(isinstance(n, str) for n in exported):
        plugin.error = "its module has no __all__ (a list of the class names it exports)"
        return plugin
    for name in exported:
        value = getattr(module, name, None)
        # Only the package's own classes: re-exporting another's (torch's, the standard
        # library's) does not make it allowed.
        if isinstance(value, type) and value.__module__.split(".")[0] == package:
            plugin.classes[f"{module.__name__}.{name}"] = value
            plugin.classes[f"{value.__module__}.{value.__qualname__}"] = value
    return plugin


@lru_cache(maxsize=1)
def installed() -> tuple[Plugin, ...]:
    """The installed plugins, each loaded once per process (a plugin that cannot be loaded is
    listed with its error and exports nothing)."""
    plugins = tuple(_load(point) for point in sorted(entry_points(group=GROUP),
                                                     key=lambda p: (p.name, p.value)))
    for plugin in plugins:
        if plugin.error:
            log.warning("gansep plugin %s (%s): %s; its classes are not allowed",
                        plugin.name, plugin.module, plugin.error)
    return plugins


def plugin_classes() -> dict[str, type]:
    """``{class path: class}`` of every class that installed plugins export."""
    return {path: cls for plugin in installed() for path, cls in plugin.classes.items()}


def refresh() -> None:
    """Forgets what was loaded (after a package was installed in this process)."""
    installed.cache_clear()


def describe() -> str:
    """What ``gansep plugins`` prints: each plugin, its module and distribution, and the classes
    it exports (or why it exports none)."""
    plugins = installed()
    if not plugins:
        return (f"No gansep plugin is installed (entry-point group {GROUP!r}); gansep's own "
                "classes are allowed in checkpoints and exports. See docs/extending.md.")
    lines = []
    for plugin in plugins:
        where = f" from {plugin.distribution}" if plugin.distribution else ""
        lines.append(f"{plugin.name}: {plugin.module}{where}")
        if plugin.error:
            lines.append(f"  not loaded: {plugin.error}")
        for path, cls in plugin.classes.items():
            if path == f"{plugin.module}.{cls.__name__}":
                lines.append(f"  {path}")
    return "\n".join(lines)
