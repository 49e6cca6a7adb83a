"""File helpers: atomic writes (nothing half-written ever sits at the final path) and
content hashes."""

from __future__ import annotations

import glob
import json
import os
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner_tag() -> str:
    """What a temporary file's name says of the process that writes it: host and PID."""
    return f"gansep-{socket.gethostname().replace('.', '_')}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Removes the temporary files that `atomic_target` left for ``path`` when its
    process was killed (SIGKILL: no cleanup ran): those of this host whose process is gone.
    Returns them."""
    host = f"gansep-{socket.gethostname().replace('.', '_')}-"
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.stem)}.{host}*{path.suffix}"):
        pid = candidate.name[len(f".{path.stem}.{host}"):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


@contextmanager
def atomic_target(path: str | Path):
    """Yields a temporary path in ``path``'s folder (same suffix, so writers that look at the
    extension still work); once the block completes it gets the usual permissions and is
    renamed over ``path``; if the block fails (an exception, Ctrl-C, or SIGTERM under the
    ``gansep`` command) it is removed. Its name carries the host and PID, so that the next
    write of ``path`` removes what a killed process left (`remove_stale_temporaries`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{_owner_tag()}.", suffix=path.suffix,
                                   dir=path.parent)
    os.close(handle)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | Path) -> str:
    """The hex SHA-256 of a file's content, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: str | Path, data) -> None:
    """Writes ``data`` as JSON (no NaN: null is JSON's undefined) atomically (see
    `atomic_target`)."""
    with atomic_target(path) as tmp:
        with open(tmp, "w") as file:
            json.dump(data, file, indent=1, allow_nan=False)


#: The file by which a command's output folder says which command wrote it and what it holds.
MANIFEST = "gansep-output.json"


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


@contextmanager
def replaced_folder(out: str | Path, command: str):
    """Yields a new, empty folder beside ``out`` into which ``command`` (e.g. ``gansep
    compare``) writes its whole output; once the block completes, that folder replaces
    ``out``, with a `MANIFEST` listing its files, so that no file of an earlier run is left
    beside the new ones. ``out`` must be absent, empty, or the output of an earlier run of the
    same command holding only the files it listed; anything else (another command's output,
    a person's files) is refused with a ConfigError before anything is written. If the block
    fails, ``out`` is left as it was."""
    from gansep.errors import ConfigError

    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        found = _listing(out)
        try:
            manifest = json.loads((out / MANIFEST).read_text())
            owner, listed = manifest["command"], set(manifest["files"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(f"--out {out}: holds files that {command} did not write (e.g. "
                              f"{found[0]}); nothing written: choose an empty or new folder"
                              ) from None
        if owner != command:
            raise ConfigError(f"--out {out}: holds the output of {owner}, not of {command}; "
                              "nothing written: choose an empty or new folder")
        foreign = [name for name in found if name != MANIFEST and name not in listed]
        if foreign:
            raise ConfigError(f"--out {out}: holds files that {command} did not write "
                              f"({', '.join(foreign[:3])}); nothing written: move them, or "
                              "choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_owner_tag()}.", dir=out.parent))
    old = None
    try:
        yield new
        write_json_atomic(new / MANIFEST, {"command": command, "files": _listing(new)})
        os.chmod(new, 0o777 & ~_umask())
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / out.name)
        os.rename(new, out)
    except BaseException:
        import shutil

        shutil.rmtree(new, ignore_errors=True)
        if old is not None and not out.exists():
            os.rename(old / out.name, out)  # put the earlier output back
        raise
    finally:
        if old is not None:
            import shutil

            shutil.rmtree(old, ignore_errors=True)
