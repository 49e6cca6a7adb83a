"""What each generator's training step needs in memory and time at its paper's size: peak
memory measured and as `gansep describe --memory` predicts it, and the step time, with L1
alone and with the HiFi-GAN objective (MSD + MPD + MRSD + feature matching), plain, with
activation checkpointing (generator and discriminators), with low-rank adapters on top, and
with the discriminators judging a 1.5 s crop of each excerpt on top of that.

    python bench/generators.py [--rows M4/l1/plain bs-roformer/hifigan/lora ...]
                               [--sizes paper demo] [--steps 2] [--memory-gib 24]
                               [--accelerator gpu --precision bf16-mixed]

Every row is `configs/gan.yaml` (a GANSeparator) at batch 1, fp32 and without EMA, with the
row's generator preset and objective: `gansep.cli.describe.predict_run_memory` runs its three
probes (1/8, 2/8 and 3/8 of the excerpt but no shorter than the discriminators' crop, each
a fresh process) and, where the prediction fits in ``--memory-gib`` (default: the memory free
when the row starts), `measure_run_memory` runs ``--steps`` training steps at full size in
a fresh process: its peak resident set (CPU) or peak allocation (GPU), and the median step
after the first. A row predicted not to fit is not run (the
machine would swap or kill it); the table says so. ``--predict-only`` runs the probes alone,
``--measure-only`` the measurement alone (a row whose prediction is known, measured again
with a longer ``--timeout``, say). On the CPU, glibc's allocator keeps much
of what a checkpointed step frees (its mmap threshold rises with every large block freed);
``--mmap-threshold 131072`` fixes the threshold, so that freed activations go back to the
system: on paper-size BS-RoFormer it cuts the resident set of a checkpointed step several
times (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from gansep.cli.describe import measure_run_memory, predict_run_memory
from gansep.devices import physical_memory
from gansep.errors import ConfigError

GENERATORS = {
    "paper": {"m4": "configs/models/m4.yaml", "htdemucs": "configs/models/htdemucs.yaml",
              "bs-roformer": "configs/models/bs-roformer.yaml",
              "mel-roformer": "configs/models/mel-roformer.yaml"},
    "demo": {"demo": "configs/models/demo.yaml", "demo-htdemucs":
             "configs/models/demo-htdemucs.yaml", "demo-roformer":
             "configs/models/demo-roformer.yaml", "demo-mel-roformer":
             "configs/models/demo-mel-roformer.yaml"},
}
#: Every generator preset by row name, whatever its size.
PRESETS = {name: path for sizes in GENERATORS.values() for name, path in sizes.items()}
OBJECTIVES = {"l1": "configs/objectives/l1.yaml", "hifigan": "configs/objectives/hifigan.yaml"}
#: The modes: overrides of the run (checkpointing covers the discriminators too where the
#: objective has them; lora adds rank-8 adapters on every linear and undilated, ungrouped,
#: zero-padded convolution layer of the generator, and of the generator only they train).
MODES = {
    "plain": [],
    "checkpointing": ["--model.init_args.generator.init_args.checkpointing", "true"],
    "lora": ["--model.init_args.generator.init_args.checkpointing", "true",
             "--model.init_args.lora.rank", "8"],
    # and the discriminators judge one random crop of 65536 samples (1.5 s at 44.1 kHz) of
    # each excerpt, as HiFi-GAN's own training judges short segments
    "lora+crop": ["--model.init_args.generator.init_args.checkpointing", "true",
                  "--model.init_args.lora.rank", "8",
                  "--model.init_args.objective.init_args.adversarial.init_args.crop_length",
                  "65536"],
}


def overrides(generator: str, objective: str, mode: str, precision: str) -> list[str]:
    extra = list(MODES[mode])
    if objective != "l1" and mode != "plain":
        extra += ["--model.init_args.objective.init_args.adversarial.init_args.checkpointing",
                  "true"]
    return ["--trainer.precision", precision, "--data.batch_size", "1",
            "--model.init_args.ema_decay", "null", "--model.init_args.generator",
            PRESETS[generator], "--model.init_args.objective", OBJECTIVES[objective], *extra]


def free_memory(accelerator: str) -> int:
    """Bytes a fresh process could take now: the device's free memory on a GPU; on the CPU the
    kernel's MemAvailable (physical memory less what this script and every other process
    hold), so that a row predicted to need more is not started only to be killed."""
    if accelerator == "gpu":
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["MemAvailable"].split()[0]) * 1024 if "MemAvailable" in fields \
        else physical_memory()


def gib(size: int) -> str:
    return f"{size / 2**30:.2f}"


def phases_line(row: str, probes: list) -> str:
    """Each probe's peak per phase of the step (GiB), for stderr: which phase a row's peak is
    in, and how each grows with the length."""
    parts = [f"{probe.length}: " + ", ".join(f"{name} {gib(peak)}"
                                             for name, peak in probe.phases.items())
             for probe in probes]
    return f"{row} phases (GiB) at " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", help="GENERATOR/OBJECTIVE/MODE (default: every "
                        "paper-size generator, objective and mode)")
    parser.add_argument("--sizes", nargs="+", default=["paper"], choices=GENERATORS,
                        help="every row of these sizes (ignored with --rows)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--memory-gib", type=float, help="run rows predicted to fit in this "
                        "(default: the memory free when the row starts: MemAvailable on the "
                        "CPU, the device's free memory on a GPU)")
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    parser.add_argument("--mmap-threshold", type=int, help="run every probe and measurement "
                        "with glibc's MALLOC_MMAP_THRESHOLD_ set to this many bytes (a fixed "
                        "threshold: freed blocks above it go back to the system at once)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--predict-only", action="store_true",
                      help="run the probes only (the measured columns stay empty)")
    only.add_argument("--measure-only", action="store_true",
                      help="run the measurement only, whatever it is predicted to need (the "
                      "predicted columns stay empty): a row whose prediction is known")
    args = parser.parse_args()
    if args.memory_gib is not None and not args.memory_gib > 0:
        parser.error(f"--memory-gib {args.memory_gib}: expected a positive number of GiB")
    if args.mmap_threshold is not None:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)  # the children's
    rows = args.rows or [f"{g}/{o}/{m}" for size in args.sizes for g in GENERATORS[size]
                         for o in OBJECTIVES for m in MODES]
    for row in rows:
        parts = row.split("/")
        if (len(parts) != 3 or parts[0] not in PRESETS or parts[1] not in OBJECTIVES
                or parts[2] not in MODES):
            parser.error(f"--rows {row}: expected GENERATOR/OBJECTIVE/MODE with GENERATOR one "
                         f"of {', '.join(PRESETS)}, OBJECTIVE one of {', '.join(OBJECTIVES)}, "
                         f"MODE one of {', '.join(MODES)}")
    limit = int(args.memory_gib * 2**30) if args.memory_gib is not None else None
    where = (torch.cuda.get_device_name() if args.accelerator == "gpu"
             else f"{torch.get_num_threads()} CPU threads")
    memory = "GPU GiB" if args.accelerator == "gpu" else "RSS GiB"
    allocator = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    within = f"{limit / 2**30:.1f} GiB" if limit else "the memory free at the row's start"
    print(f"batch 1, {args.steps} steps, precision {args.precision}, torch "
          f"{torch.__version__}, {where}; rows measured where predicted within {within}; "
          f"MALLOC_MMAP_THRESHOLD_ {allocator or 'unset'}")
    print(f"| generator | objective | mode | trainable | predicted peak {memory} | measured "
          f"peak {memory} | prediction | step (s) | probes + run (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        generator, objective, mode = row.split("/")
        extra = overrides(generator, objective, mode, args.precision)
        configs = [Path("configs/gan.yaml")]
        start = time.perf_counter()
        predicted = None
        if not args.measure_only:
            try:
                predicted = predict_run_memory(configs, extra, args.steps, args.accelerator)
            except ConfigError as error:
                print(f"| {generator} | {objective} | {mode} | | failed: {error} | | | | |",
                      flush=True)
                continue
            print(phases_line(row, predicted.probes) + f"; predicted in {predicted.phase}",
                  file=sys.stderr, flush=True)
        cells = ([f"{predicted.trainable / 1e6:.2f} M", gib(predicted.predicted)] if predicted
                 else ["", ""])
        free = limit or free_memory(args.accelerator)
        if args.predict_only:
            cells += ["", "", "", f"{time.perf_counter() - start:.0f}"]
        elif predicted and predicted.predicted > free:
            cells += [f"not run (over {free / 2**30:.1f})", "", "", ""]
        else:
            try:
                measured = measure_run_memory(configs, extra, args.steps, args.accelerator,
                                              args.timeout)
            except ConfigError as error:
                cells += [f"failed: {error}", "", "", ""]
            else:
                print(phases_line(row, [measured]), file=sys.stderr, flush=True)
                error = (f"{(predicted.predicted - measured.peak) / measured.peak:+.1%}"
                         if predicted else "")
                step = statistics.median(measured.seconds[1:] or measured.seconds)
                cells += [gib(measured.peak), error, f"{step:.1f}",
                          f"{time.perf_counter() - start:.0f}"]
        print(f"| {generator} | {objective} | {mode} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
