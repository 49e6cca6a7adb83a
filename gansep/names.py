"""Names read from files (sources, tracks, conditions, runs) become parts of output paths:
each must be one plain path component, or a file could make gansep write outside the folder
it was given."""

from __future__ import annotations

from gansep.errors import ConfigError

# Longer names exceed the file-name limit of common file systems (255 bytes).
MAX_BYTES = 200


def plain_name_problem(name) -> str | None:
    """Why ``name`` cannot be one component of an output path, or None when it can."""
    if not isinstance(name, str):
        return f"{name!r} is not a string"
    if not name.strip():
        return f"{name!r} is empty"
    if name in (".", ".."):
        return f"{name!r} names a folder, not a file"
    bad = [c for c in ("/", "\\", "\0") if c in name]
    if bad or any(ord(c) < 32 for c in name):
        return (f"{name!r} holds a path separator or a control character: a name, not a path, "
                "is expected")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_BYTES:
        return f"{name[:40]!r}... is longer than {MAX_BYTES} bytes"
    return None


def check_plain_name(name, what: str) -> str:
    """``name`` when it is one plain path component (no separator, not ``.``/``..``, no NUL
    or control character, at most `MAX_BYTES`), else a ConfigError naming ``what``."""
    problem = plain_name_problem(name)
    if problem:
        raise ConfigError(f"{what}: {problem}")
    return name
