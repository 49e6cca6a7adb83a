"""``gansep COMMAND --help`` in a fraction of a second: the help text of a command is built
once (importing torch and Lightning, which takes seconds) and kept in a cache keyed by
gansep's source files and the versions of the packages that shape it, so that later calls
print it without importing either. ``make install`` builds every command's help
(`build_all`); a changed source or package builds it again on its next call.

Only light modules are imported here: this runs before any command does.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from pathlib import Path

#: Packages whose versions change what LightningCLI's help says.
PACKAGES = ("torch", "pytorch-lightning", "jsonargparse")
HELP = ("-h", "--help")


def cache_folder() -> Path:
    """Where help texts are kept: ``$GANSEP_CACHE`` or ``$XDG_CACHE_HOME/gansep`` (default
    ``~/.cache/gansep``), below ``help/``."""
    base = os.environ.get("GANSEP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "gansep")
    return Path(base) / "help"


def source_key() -> str:
    """A digest of every gansep source file (names and bytes) and the `PACKAGES`' versions:
    any change to either makes a new key."""
    from importlib import metadata

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for name in PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=-".encode())
    return digest.hexdigest()[:24]


def is_help(args: list[str]) -> bool:
    """Whether ``args`` (after ``gansep``) ask for a command's plain help: ``COMMAND --help``
    (``listen build --help`` too): the cached texts are of these."""
    return len(args) >= 2 and args[-1] in HELP and all(not a.startswith("-") for a in args[:-1])


def _path(args: list[str], key: str) -> Path:
    return cache_folder() / key / ("_".join(args[:-1]) + ".txt")


def cached(args: list[str]) -> str | None:
    """The kept help text of ``args`` (see `is_help`), or None."""
    try:
        return _path(args, source_key()).read_text()
    except OSError:
        return None


def build(args: list[str], run) -> tuple[str, int]:
    """Runs ``run(args)`` (the command's own help: it prints and exits), keeps what it
    printed when it succeeded (a cache that cannot be written is skipped) and returns
    ``(text, exit status)``."""
    out = io.StringIO()
    code, argv = 0, sys.argv
    sys.argv = ["gansep"]  # LightningCLI takes the args given, and warns beside sys.argv
    with contextlib.redirect_stdout(out):
        try:
            code = run(args) or 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 0
        finally:
            sys.argv = argv
    text = out.getvalue()
    if code == 0 and text:
        path = _path(args, source_key())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, path)
        except OSError:
            pass
    return text, code


def build_all(run, commands: list[list[str]]) -> int:
    """Builds the help of every command in ``commands`` (each without ``--help``)."""
    for command in commands:
        text, code = build([*command, "--help"], run)
        if code:
            sys.stderr.write(f"gansep {' '.join(command)} --help failed (exit {code})\n")
            return code
    return 0
