"""The errors a person can fix: a bad file, option, configuration or checkpoint. The command
line prints them as one line (no traceback) and exits non-zero; anything else is a bug and
keeps its traceback."""

from __future__ import annotations

import errno


class GansepError(Exception):
    """A user error; the message names the file, key or value and what was expected."""


class ConfigError(GansepError, ValueError):
    """An option or configuration value that cannot work."""


# OSErrors that describe the user's files and folders, not a fault of gansep.
_USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR,
                errno.EEXIST, errno.ENOSPC, errno.EROFS, errno.ENAMETOOLONG, errno.ENOTEMPTY,
                errno.EDQUOT, errno.ELOOP}


def user_message(error: BaseException) -> str | None:
    """The one-line message for a user error found in ``error`` or its causes (a library such
    as jsonargparse may wrap gansep's own error), or None for anything else."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, GansepError):
            return str(error)
        # Lightning's refusal of a Trainer setting (max_steps -5, an unknown accelerator):
        # matched by name, so that this module imports no Lightning.
        if type(error).__name__ == "MisconfigurationException":
            return " ".join(str(error).split())
        if isinstance(error, OSError) and error.errno in _USER_ERRNOS:
            where = error.filename if error.filename is not None else ""
            return f"{where}: {error.strerror}" if where else str(error.strerror or error)
        error = error.__cause__ or error.__context__
    return None
