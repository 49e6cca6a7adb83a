"""Argument types and checks shared by the tools: numbers in range, devices that exist,
output folders that can be written. Each failure names the option and the value."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from gansep.devices import check_device
from gansep.errors import ConfigError


def in_range(kind, low: float, high: float = math.inf, what: str = "a number",
             low_inclusive: bool = True):
    """An argparse type: a finite ``kind`` number from ``low`` (inclusive unless
    ``low_inclusive`` is False) to ``high``; the message names ``what`` was expected."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        above = low <= value if low_inclusive else low < value
        if not (math.isfinite(value) and above and value <= high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = in_range(int, 1, what="a positive integer")
natural_int = in_range(int, 0, what="an integer >= 0")
positive_float = in_range(float, 0, what="a positive number", low_inclusive=False)
natural_float = in_range(float, 0, what="a number >= 0")


def device(text: str) -> str:
    """A torch device that exists here (``cpu``, ``cuda``, ``cuda:1``, ``mps``; see
    `gansep.devices.check_device`)."""
    try:
        return check_device(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def writable_folder(path: Path, option: str = "--out") -> Path:
    """Checks, before any work, that ``path`` is (or can be created as) a folder this process
    can write in; ConfigError naming ``option`` and the path otherwise. Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is a file, not a folder")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: {existing} is a file, so no folder can be made "
                          "below it")
    if not os.access(existing, os.W_OK | os.X_OK) or _read_only_mount(existing):
        raise ConfigError(f"{option} {path}: {existing} is not writable")
    return path


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def distinct_paths(inputs, files=(), folders=()) -> None:
    """Refuses, before any work, a command whose outputs would overwrite or mix with its
    inputs: ConfigError naming both paths. ``inputs``, ``files`` (output files) and
    ``folders`` (output folders the command writes into) are ``(option, path)`` pairs;
    ``None`` paths are skipped. Paths are compared resolved (links followed). Refused: an
    output equal to an input; an output folder that holds an input; an output inside an input
    folder (the command's next run would read it as input); two outputs at one path."""
    def resolved(pairs):
        return [(option, Path(path), Path(path).resolve()) for option, path in pairs
                if path is not None]

    ins, outs = resolved(inputs), resolved(files) + resolved(folders)
    out_folders = [entry[2] for entry in resolved(folders)]
    for option, path, where in outs:
        for in_option, in_path, in_where in ins:
            if where == in_where:
                raise ConfigError(f"{option} {path} is also the input {in_option} {in_path}: "
                                  "a command never writes over its own input")
            if where in out_folders and _inside(in_where, where):
                raise ConfigError(f"{option} {path} holds the input {in_option} {in_path}: "
                                  "write the outputs to a folder of their own")
            if in_where.is_dir() and _inside(where, in_where):
                raise ConfigError(f"{option} {path} is inside the input {in_option} {in_path}: "
                                  "the outputs would mix with what is read; write them "
                                  "elsewhere")
    for index, (option, path, where) in enumerate(outs):
        for other_option, other, other_where in outs[index + 1:]:
            if where == other_where:
                raise ConfigError(f"{option} {path} and {other_option} {other} are the same "
                                  "path: two outputs cannot share it")
