"""Time a GANSeparator training step of the M4 preset with L1 alone and with each
discriminator family, and all of them together (HiFi-GAN style), at batch 4.

    python bench/gan_step.py [--steps 3] [--batch-size 4] [--generator configs/models/m4.yaml]
                             [--crop-length 8192] [--objectives l1 hifigan]
                             [--compile all] [--compile-mode reduce-overhead] [--warmup 1]
                             [--cuda-graphs all] [--channels-last all] [--fused]
                             [--profile DIR]
                             [--accelerator gpu --precision 16-mixed --benchmark]

Each step is the module's own ``training_step`` run by a Lightning Trainer (discriminator
update, then generator update), on random input of the model's exact lengths; the median over
``--steps`` timed steps after ``--warmup`` steps (compilation, CUDA-graph recording) is reported with its ratio to L1 alone. One
more step runs under torch's FlopCounterMode: its FLOP (forward and backward of both updates),
their ratio to L1's, and the achieved TFLOP/s at the median time. On a GPU the timer
synchronises the device, and the peak memory allocated by torch is reported. ``--profile DIR``
then runs the slowest objective once more under torch's profiler: a Chrome trace in DIR and
the operators that took the most time.
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

from gansep.cli.describe import generator_from_config
from gansep.losses import Objective
from gansep.data.sampling import collate_excerpts
from gansep.training import GANSeparator, SpeedUps

OBJECTIVES = ["l1", "l1+msd", "l1+mpd", "l1+mrsd", "l1+cstft", "hifigan"]


class StepTimer(pl.Callback):
    """Times every step but the last, which it counts FLOP of instead."""

    def __init__(self, timed: int):
        self.timed = timed
        self.times: list[float] = []
        self.flop = 0
        self.counter = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if batch_idx == self.timed:
            from torch.utils.flop_counter import FlopCounterMode

            self.counter = FlopCounterMode(display=False)
            self.counter.__enter__()
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if self.counter is not None:
            self.counter.__exit__(None, None, None)
            self.flop = self.counter.get_total_flops()
            self.counter = None
            return
        self.times.append(time.perf_counter() - self.start)


class ProfileStep(pl.Callback):
    """Profiles the step after the warm-up ones (compilation, graph capture)."""

    def __init__(self, out: Path, at: int):
        self.out = out
        self.at = at
        self.profiler = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == self.at:
            from torch.profiler import ProfilerActivity, profile

            activities = [ProfilerActivity.CPU] + (
                [ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
            self.profiler = profile(activities=activities, record_shapes=True)
            self.profiler.__enter__()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.profiler is not None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.profiler.__exit__(None, None, None)
            self.out.mkdir(parents=True, exist_ok=True)
            self.profiler.export_chrome_trace(str(self.out / "trace.json"))
            sort = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
            print(self.profiler.key_averages().table(sort_by=sort, row_limit=15))
            self.profiler = None


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
                   accelerator: str, precision: str, benchmark: bool,
                   crop_length: int | None = None, compile: str = "none",
                   profile: Path | None = None, compile_mode: str = "default",
                   warmup: int = 1, cuda_graphs: str = "none", channels_last: str = "none",
                   fused: bool = False) -> tuple[list[float], float, int]:
    """Step times, the peak GPU memory in MiB (0 on CPU) and the FLOP of one step."""
    torch.manual_seed(0)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    generator = generator_from_config(generator_config)
    objective = load_objective(name)
    if objective.adversarial is not None:
        objective.adversarial.crop_length = crop_length
    optimizer = None
    if fused:  # one kernel per optimiser step instead of a few per parameter group
        def optimizer(params):
            return torch.optim.AdamW(params, lr=1e-4, betas=(0.8, 0.99), fused=True)
    module = GANSeparator(generator, objective, optimizer=optimizer,
                          discriminator_optimizer=optimizer)
    speedups = SpeedUps(compile=compile, compile_mode=compile_mode, cuda_graphs=cuda_graphs,
                        channels_last=channels_last)
    g = generator.geometry
    count = batch_size * (steps + warmup + 1)
    mixture = torch.randn(count, generator.channels, g.input_length) * 0.1
    sources = torch.randn(count, len(generator.sources), generator.channels,
                          g.output_length) * 0.1
    loader = DataLoader(TensorDataset(mixture, sources), batch_size=batch_size,
                        collate_fn=collate_excerpts)
    timer = StepTimer(timed=steps + warmup)
    trainer = pl.Trainer(max_steps=steps + warmup + 1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[ProfileStep(profile, warmup) if profile else timer,
                                    speedups],
                         accelerator=accelerator, devices=1,
                         precision=precision, benchmark=benchmark)
    try:
        trainer.fit(module, loader)
    except RuntimeError as error:
        # FlopCounterMode's module hooks cannot run inside autograd.grad (the WGAN-GP
        # penalty's double backward): the timed steps are done, the FLOP count is not.
        if "_will_engine_execute_node" not in str(error) or len(timer.times) < steps + warmup:
            raise
        timer.flop = 0
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    if cuda_graphs != "none" and accelerator == "gpu":
        timer.flop = 0  # replayed graphs dispatch no operators for the counter to see
    return timer.times[warmup:], peak, timer.flop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=Path("configs/models/m4.yaml"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--objectives", nargs="+", default=OBJECTIVES)
    parser.add_argument("--accelerator", default="cpu", help="cpu or gpu")
    parser.add_argument("--precision", default="32-true", help="32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--crop-length", type=int,
                        help="discriminators judge random crops of this many samples")
    parser.add_argument("--compile", default="none",
                        choices=["none", "generator", "discriminators", "all"])
    parser.add_argument("--compile-mode", default="default",
                        choices=["default", "reduce-overhead", "max-autotune",
                                 "max-autotune-no-cudagraphs"],
                        help="torch.compile's mode (reduce-overhead: CUDA graphs on a GPU)")
    parser.add_argument("--cuda-graphs", default="none",
                        choices=["none", "discriminators", "all"],
                        help="replay the networks' passes from CUDA graphs (no compiling)")
    parser.add_argument("--channels-last", default="none",
                        choices=["none", "discriminators", "all"],
                        help="channels-last convolutions (NHWC for cuDNN)")
    parser.add_argument("--fused", action="store_true", help="fused AdamW (GPU)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps first (compiling and graph capture need 3)")
    parser.add_argument("--profile", type=Path,
                        help="write a profiler trace of the slowest objective's step here")
    parser.add_argument("--benchmark", action="store_true",
                        help="let cuDNN pick its fastest convolution algorithms "
                             "(Trainer(benchmark=True))")
    args = parser.parse_args()
    rows = []
    for name in args.objectives:
        times, peak, flop = time_objective(name, args.generator, args.batch_size, args.steps,
                                           args.accelerator, args.precision, args.benchmark,
                                           args.crop_length, args.compile,
                                           compile_mode=args.compile_mode, warmup=args.warmup,
                                           cuda_graphs=args.cuda_graphs,
                                           channels_last=args.channels_last, fused=args.fused)
        rows.append((name, statistics.median(times), min(times), max(times), peak, flop))
    base = dict((r[0], r[1]) for r in rows).get("l1")
    base_flop = dict((r[0], r[5]) for r in rows).get("l1")
    where = (torch.cuda.get_device_name() if args.accelerator == "gpu"
             else f"{torch.get_num_threads()} CPU threads")
    print(f"{args.generator} batch {args.batch_size}, {args.steps} timed steps each, "
          f"precision {args.precision}{', cudnn.benchmark' if args.benchmark else ''}, "
          f"crop {args.crop_length or 'none'}, compile {args.compile} ({args.compile_mode}), "
          f"cuda_graphs {args.cuda_graphs}, channels_last {args.channels_last}"
          f"{', fused AdamW' if args.fused else ''}, torch {torch.__version__}, {where}")
    print("| objective | median step (s) | min (s) | max (s) | ratio to l1 | GFLOP | FLOP "
          "ratio | TFLOP/s | peak GPU MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, median, low, high, peak, flop in rows:
        ratio = f"{median / base:.2f}" if base else "-"
        flop_ratio = f"{flop / base_flop:.2f}" if base_flop and flop else "n/a"
        gflop = f"{flop / 1e9:.0f}" if flop else "n/a"
        tflops = f"{flop / median / 1e12:.2f}" if flop else "n/a"
        print(f"| {name} | {median:.3f} | {low:.3f} | {high:.3f} | {ratio} | {gflop} | "
              f"{flop_ratio} | {tflops} | {peak:.0f} |")
    if args.profile:
        slowest = max(rows, key=lambda row: row[1])[0]
        print(f"\nprofile of {slowest} (one step) -> {args.profile / 'trace.json'}")
        time_objective(slowest, args.generator, args.batch_size, 1, args.accelerator,
                       args.precision, args.benchmark, args.crop_length, args.compile,
                       args.profile, args.compile_mode, args.warmup, args.cuda_graphs,
                       args.channels_last, args.fused)


if __name__ == "__main__":
    main()
