"""Time a GANSeparator training step of the M4 preset with L1 alone and with each
discriminator family, and all of them together (HiFi-GAN style), at batch 4.

    python bench/gan_step.py [--steps 3] [--batch-size 4] [--generator configs/models/m4.yaml]
                             [--accelerator gpu --precision 16-mixed --benchmark]

Each step is the module's own ``training_step`` run by a Lightning Trainer (discriminator
update, then generator update), on random input of the model's exact lengths; the median over
``--steps`` timed steps after one warm-up step is reported with its ratio to L1 alone. On a
GPU the timer synchronises the device, and the peak memory allocated by torch is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from jsonargparse import ActionConfigFile, ArgumentParser
from torch.utils.data import DataLoader, TensorDataset

from gansep.cli.describe import build_generator, generator_spec
from gansep.losses import Objective
from gansep.training import GANSeparator

OBJECTIVES = ["l1", "l1+msd", "l1+mpd", "l1+mrsd", "l1+cstft", "hifigan"]


class StepTimer(pl.Callback):
    def __init__(self):
        self.times: list[float] = []

    def on_train_batch_start(self, *args):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def on_train_batch_end(self, *args):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self.start)


def load_objective(name: str) -> Objective:
    """An objective preset of configs/objectives, instantiated as LightningCLI would."""
    path = (Path("configs/objectives") / f"{name}.yaml").resolve()
    parser = ArgumentParser()
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_subclass_arguments(Objective, "objective")
    with tempfile.TemporaryDirectory() as folder:
        wrapper = Path(folder) / "run.yaml"
        wrapper.write_text(f"objective: {path}\n")  # nested paths resolve from the preset
        config = parser.parse_args(["--config", str(wrapper)])
    return parser.instantiate_classes(config).objective


def time_objective(name: str, generator_config: Path, batch_size: int, steps: int,
                   accelerator: str, precision: str,
                   benchmark: bool) -> tuple[list[float], float]:
    """Step times, and the peak GPU memory in MiB (0 on CPU)."""
    torch.manual_seed(0)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    generator = build_generator(generator_spec(generator_config))
    module = GANSeparator(generator, load_objective(name))
    g = generator.geometry
    mixture = torch.randn(batch_size * (steps + 1), generator.channels, g.input_length) * 0.1
    sources = torch.randn(batch_size * (steps + 1), len(generator.sources), generator.channels,
                          g.output_length) * 0.1
    loader = DataLoader(TensorDataset(mixture, sources), batch_size=batch_size)
    timer = StepTimer()
    trainer = pl.Trainer(max_steps=steps + 1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[timer], accelerator=accelerator, devices=1,
                         precision=precision, benchmark=benchmark)
    trainer.fit(module, loader)
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    return timer.times[1:], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=Path("configs/models/m4.yaml"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--objectives", nargs="+", default=OBJECTIVES)
    parser.add_argument("--accelerator", default="cpu", help="cpu or gpu")
    parser.add_argument("--precision", default="32-true", help="32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--benchmark", action="store_true",
                        help="let cuDNN pick its fastest convolution algorithms "
                             "(Trainer(benchmark=True))")
    args = parser.parse_args()
    rows = []
    for name in args.objectives:
        times, peak = time_objective(name, args.generator, args.batch_size, args.steps,
                                     args.accelerator, args.precision, args.benchmark)
        rows.append((name, statistics.median(times), min(times), max(times), peak))
    base = dict((r[0], r[1]) for r in rows).get("l1")
    where = (torch.cuda.get_device_name() if args.accelerator == "gpu"
             else f"{torch.get_num_threads()} CPU threads")
    print(f"{args.generator} batch {args.batch_size}, {args.steps} timed steps each, "
          f"precision {args.precision}{', cudnn.benchmark' if args.benchmark else ''}, "
          f"torch {torch.__version__}, {where}")
    print("| objective | median step (s) | min (s) | max (s) | ratio to l1 | peak GPU MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, median, low, high, peak in rows:
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"| {name} | {median:.3f} | {low:.3f} | {high:.3f} | {ratio} | {peak:.0f} |")


if __name__ == "__main__":
    main()
