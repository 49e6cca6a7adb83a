"""Surviving long runs: atomic checkpoints, a checkpoint on SIGTERM, and a guard against
non-finite losses."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from gansep.atomic import atomic_target
from gansep.checkpoints import load_checkpoint_file
from gansep.devices import physical_memory
from gansep.errors import ConfigError, GansepError

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes every checkpoint to a temporary file and renames it into place, so a run killed
    during a save leaves the previous checkpoint intact, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        with atomic_target(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        """Local files load through gansep's safe loader (tensors and plain data only), so a
        missing, damaged or code-carrying file is a one-line CheckpointError; other locations
        (fsspec URLs) through Lightning's."""
        if "://" in str(path):
            return super().load_checkpoint(path, map_location, weights_only)
        return load_checkpoint_file(path, map_location or "cpu")


class SaveOnPreemption(pl.Callback):
    """On SIGTERM (a scheduler's pre-emption) Lightning stops at the next batch boundary; this
    then writes ``last.ckpt`` in every ModelCheckpoint's folder so that ``--ckpt_path last``
    resumes from exactly there, and the process exits with status 0."""

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule,
                     exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                path = Path(callback.dirpath) / (callback.CHECKPOINT_NAME_LAST
                                                 + callback.FILE_EXTENSION)
                trainer.save_checkpoint(path)
                log.info("SIGTERM: saved %s at step %d; resume with --ckpt_path last", path,
                         trainer.global_step)


class DivergenceError(GansepError, RuntimeError):
    """Too many consecutive training steps with non-finite losses or gradients."""


class FiniteGuard:
    """Counts steps skipped for non-finite values and stops the run after ``limit``
    consecutive ones, naming the term and the step.

    Args:
        limit: consecutive bad steps tolerated; the next one raises DivergenceError.
    """

    def __init__(self, limit: int):
        if limit < 0:
            raise ConfigError(f"max_bad_steps must be >= 0, got {limit}")
        self.limit = limit
        self.consecutive = 0
        self.skipped = 0

    @staticmethod
    def first_bad(values: dict[str, torch.Tensor]) -> str | None:
        """The name of the first non-finite value, or None. The verdicts are gathered on the
        values' device and read back at once: one host synchronisation per check."""
        if not values:
            return None
        tensors = [torch.as_tensor(value).detach() for value in values.values()]
        device = next((t.device for t in tensors if t.device.type != "cpu"), tensors[0].device)
        finite = torch.stack([torch.isfinite(t).all().to(device) for t in tensors]).tolist()
        return next((name for name, ok in zip(values, finite) if not ok), None)

    def check(self, values: dict[str, torch.Tensor], where: str, step: int,
              agree=None) -> bool:
        """True when every value is finite; otherwise counts a skipped step (and raises once
        more than ``limit`` follow each other). ``agree`` (under DDP, the strategy's
        ``reduce_boolean_decision``) makes every rank take the same decision, so that no rank
        waits for another's gradients."""
        bad = self.first_bad(values)
        finite = bad is None if agree is None else bool(agree(bad is None))
        if finite:
            return True
        self.consecutive += 1
        self.skipped += 1
        value = (float(torch.as_tensor(values[bad]).detach().float().flatten()[0])
                 if bad is not None else float("nan"))
        bad = bad if bad is not None else "value on another rank"
        log.warning("step %d: %s %s is %s; step skipped (%d in a row)", step, where, bad,
                    value if not math.isfinite(value) else "non-finite", self.consecutive)
        if self.consecutive > self.limit:
            raise DivergenceError(
                f"training diverged: {self.consecutive} consecutive steps with non-finite "
                f"values, the last at step {step}: {where} {bad} = {value}. The last good "
                "checkpoint is left as it was.")
        return False

    def passed(self) -> None:
        self.consecutive = 0

    def state_dict(self) -> dict:
        return {"consecutive": self.consecutive, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.consecutive, self.skipped = state["consecutive"], state["skipped"]


def gradient_norm(parameters) -> torch.Tensor:
    """The total 2-norm of the parameters' gradients (0 when none has one)."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))  # few kernels


def check_training_memory(generator, batch_size: int, memory: int | None = None) -> None:
    """ConfigError, before any data is read, when a training step of ``batch_size`` examples
    would keep more activations than ``memory`` (default: this machine's physical memory)
    holds: the kernel would otherwise kill the process mid-run. Generators without an
    ``activation_bytes`` estimate (None) are not checked."""
    memory = physical_memory() if memory is None else memory
    per_example = generator.activation_bytes()
    if memory is None or per_example is None:
        return
    if per_example * batch_size > memory:
        g = generator.geometry
        raise ConfigError(
            f"{type(generator).__name__}: levels={generator.levels}, extra_filters="
            f"{generator.extra_filters}, output_length={g.output_length} needs "
            f"{g.input_length} input samples and at least an estimated "
            f"{per_example * batch_size / 2**30:.1f} GiB of activations for a batch of "
            f"{batch_size} ({per_example / 2**30:.2f} GiB per example), more than this "
            f"machine's {memory / 2**30:.1f} GiB of memory: use a smaller data.batch_size, "
            "fewer levels or a shorter output_length")


def configured(factory, argument, key: str):
    """``factory(argument)``: an optimiser or scheduler built from the configuration, whose
    refusal of its own arguments (torch's ``ValueError("Invalid learning rate: -1.0")``) is a
    ConfigError naming the configuration key."""
    try:
        return factory(argument)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
