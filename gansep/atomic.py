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
