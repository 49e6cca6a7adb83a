"""Step time and peak GPU memory of a whole ``gansep fit`` run, for any config and flags.

    python bench/fit_step.py --config configs/demo-gan.yaml \\
        --trainer.accelerator gpu --trainer.precision 16-mixed

The arguments are those of ``gansep fit``. gansep's LightningCLI runs in this process with one
more callback, which times every training step (synchronising the GPU before reading the
clock). Printed at the end: the run's wall time; the median step time of the reconstruction-only
warm-up steps and of the adversarial steps (a GANSeparator's ``warmup_steps`` splits them; the
first 5 steps of each phase are left out as warm-up of the kernels); the peak GPU memory torch
allocated and reserved; and the last logged metrics.
"""

from __future__ import annotations

import statistics
import sys
import time

import pytorch_lightning as pl
import torch

from gansep.cli.lightning import lightning_cli

SKIP = 5


class StepStats(pl.Callback):
    """Wall time of each training step, labelled with the phase it ran in."""

    def __init__(self):
        self.steps: list[tuple[bool, float]] = []

    @staticmethod
    def _sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer, module, *args):
        self._sync()
        self.adversarial = module.global_step >= getattr(module, "warmup_steps", 0) and \
            getattr(module, "adversarial", None) is not None
        self.start = time.perf_counter()

    def on_train_batch_end(self, *args):
        self._sync()
        self.steps.append((self.adversarial, time.perf_counter() - self.start))


def median_line(label: str, times: list[float]) -> str:
    if len(times) <= SKIP:
        return f"{label}: {len(times)} steps, too few to time"
    kept = times[SKIP:]
    return (f"{label}: median {statistics.median(kept) * 1000:.1f} ms/step "
            f"({len(kept)} steps timed, min {min(kept) * 1000:.1f}, max {max(kept) * 1000:.1f})")


def main(args: list[str]) -> None:
    stats = StepStats()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    cli = lightning_cli(["fit", *args], callbacks=[stats])
    wall = time.perf_counter() - start
    trainer = cli.trainer
    where = (torch.cuda.get_device_name() if trainer.strategy.root_device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} threads")
    print(f"gansep fit {' '.join(args)}")
    print(f"torch {torch.__version__}, {where}, precision {trainer.precision}, "
          f"{trainer.global_step} steps in {wall:.1f} s (whole run, validation included)")
    print(median_line("reconstruction-only steps", [t for adv, t in stats.steps if not adv]))
    print(median_line("adversarial steps", [t for adv, t in stats.steps if adv]))
    if torch.cuda.is_available():
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB allocated, "
              f"{torch.cuda.max_memory_reserved() / 2**20:.0f} MiB reserved")
    metrics = {k: round(float(v), 3) for k, v in sorted(trainer.callback_metrics.items())}
    print(f"last metrics: {metrics}")


if __name__ == "__main__":
    arguments, sys.argv[1:] = sys.argv[1:], []  # handed to the CLI as args, not read twice
    main(arguments)
