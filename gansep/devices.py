"""Torch devices named by users (options, config keys), device counts and this machine's
memory: checked once, with one message, before anything is started or allocated."""

from __future__ import annotations

import os

from gansep.errors import ConfigError


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_trainer_devices(accelerator, devices, key: str = "trainer.devices") -> None:
    """ConfigError naming ``key`` when a Trainer's ``devices`` asks for more than this machine
    has: more CPU processes than cores (each a training process: 64 on 2 cores is load 64),
    or more accelerators than are present. ``auto``, ``-1`` and lists of indices are left
    to Lightning, which checks indices itself."""
    import torch

    if isinstance(devices, str):
        text = devices.strip()
        if not text.isdigit():
            return  # "auto", "-1", "0,1": Lightning's own parsing
        devices = int(text)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        return
    name = str("auto" if accelerator is None else accelerator).lower()
    gpu = any(word in name for word in ("gpu", "cuda"))
    if name == "auto" and torch.cuda.is_available():
        gpu = True
    if gpu:
        present = torch.cuda.device_count()
        if devices > present:
            raise ConfigError(f"{key}: {devices} GPU(s) asked for, {present} present here")
    elif name == "auto" or "cpu" in name:
        cores = usable_cores()
        if devices > cores:
            raise ConfigError(f"{key}: {devices} CPU training processes asked for, but this "
                              f"machine has {cores} core(s): at most {cores} (each process "
                              "trains a model replica)")


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
