"""Test-only Lightning callbacks, importable by the CLI in subprocesses (PYTHONPATH=repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
import torch

from gansep.losses import ReconstructionLoss


class WeightDigest(pl.Callback):
    """Each rank writes the sum of every parameter tensor at the end of training, to compare
    ranks (DDP keeps replicas identical only if gradients are synchronised)."""

    def __init__(self, out: str):
        self.out = Path(out)

    def on_train_end(self, trainer, pl_module) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        digest = {name: float(p.detach().double().sum()) for name, p in pl_module.named_parameters()}
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(digest))


class NaNAfter(ReconstructionLoss):
    """A loss term that turns NaN on training calls ``start`` .. ``stop - 1`` (fault injection:
    a diverging objective)."""

    name = "nan_after"

    def __init__(self, start: int, stop: int = 10**9, weight: float = 1.0):
        super().__init__(weight)
        self.start, self.stop, self.calls = start, stop, 0

    def forward(self, estimate, reference):
        value = (estimate - reference).abs().mean() * 0
        if self.training:
            self.calls += 1
            if self.start < self.calls <= self.stop:
                return value + float("nan")
        return value


class SlowSteps(pl.Callback):
    """Sleeps after each training batch, so a test can signal the process mid-training, and
    writes the step reached to ``progress`` so it knows when."""

    def __init__(self, progress: str, seconds: float = 0.2):
        self.progress, self.seconds = Path(progress), seconds

    def on_train_batch_end(self, trainer, *args) -> None:
        import time

        self.progress.write_text(str(trainer.global_step))
        time.sleep(self.seconds)
