"""Test-only Lightning callbacks, importable by the CLI in subprocesses (PYTHONPATH=repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl


class WeightDigest(pl.Callback):
    """Each rank writes the sum of every parameter tensor at the end of training, to compare
    ranks (DDP keeps replicas identical only if gradients are synchronised)."""

    def __init__(self, out: str):
        self.out = Path(out)

    def on_train_end(self, trainer, pl_module) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        digest = {name: float(p.detach().double().sum()) for name, p in pl_module.named_parameters()}
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(digest))
