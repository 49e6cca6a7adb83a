"""Torch devices named by users (options, config keys): checked once, with one message."""

from __future__ import annotations

from gansep.errors import ConfigError


def check_device(text: str, key: str | None = None) -> str:
    """``text`` if it names a torch device that exists here (``cpu``, ``cuda``, ``cuda:1``,
    ``mps``), else ConfigError saying what is wrong (after ``key: `` when given: the config
    key or argument that named it)."""
    try:
        return _checked(text)
    except ConfigError as error:
        if key is None:
            raise
        raise ConfigError(f"{key}: {error}") from None


def _checked(text: str) -> str:
    import torch

    try:
        parsed = torch.device(text)
    except (RuntimeError, TypeError):
        raise ConfigError(f"expected a torch device such as cpu, cuda or cuda:1, got {text!r}"
                          ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{text!r}: CUDA is not available here (torch "
                              f"{torch.__version__}, no CUDA device found)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"{text!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{text!r}: MPS is not available here")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{text!r}: gansep runs on cpu, cuda or mps")
    return text
