"""What each generator costs: parameters, the FLOP of one training step, its time and peak
memory, with L1 alone and with the HiFi-GAN objective (MSD + MPD + MRSD + feature matching),
at the papers' sizes and at the demo sizes (configs/models/).

    python bench/generators.py [--batch-size 1] [--steps 2] [--sizes demo paper]
                               [--objectives l1 hifigan] [--accelerator gpu --precision bf16-mixed]

Each (generator, objective) runs in its own process (bench/gan_step.py's ``time_objective``:
the GANSeparator's own training step under a Lightning Trainer, on random input of the
generator's lengths): the median of ``--steps`` timed steps after one untimed, the FLOP of one
more step (forward and backward of both updates, torch's FlopCounterMode), and the peak memory:
on a GPU torch's peak allocation, on the CPU the process's peak resident set (``ru_maxrss``),
printed beside that of a process that only imports gansep and torch.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

GENERATORS = {
    "demo": ["configs/models/demo.yaml", "configs/models/demo-htdemucs.yaml",
             "configs/models/demo-roformer.yaml", "configs/models/demo-mel-roformer.yaml"],
    "paper": ["configs/models/m4.yaml", "configs/models/htdemucs.yaml",
              "configs/models/bs-roformer.yaml", "configs/models/mel-roformer.yaml"],
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(generator: str, objective: str, batch_size: int, steps: int, accelerator: str,
        precision: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gan_step import time_objective

    times, peak_gpu, flop = time_objective(objective, Path(generator), batch_size, steps,
                                           accelerator, precision, accelerator == "gpu")
    return {"median": statistics.median(times), "flop": flop, "peak_gpu_mib": peak_gpu,
            "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=GENERATORS)
    parser.add_argument("--objectives", nargs="+", default=["l1", "hifigan"])
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    parser.add_argument("--one", nargs=2, metavar=("GENERATOR", "OBJECTIVE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.batch_size, args.steps, args.accelerator,
                             args.precision)))
        return
    import torch

    from gansep.cli.describe import generator_from_config

    baseline = subprocess.run([sys.executable, "-c", "import resource, torch, gansep.training; "
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                              capture_output=True, text=True, check=True).stdout.strip()
    where = (torch.cuda.get_device_name() if args.accelerator == "gpu"
             else f"{torch.get_num_threads()} CPU threads")
    memory = "peak GPU MiB" if args.accelerator == "gpu" else "peak RSS MiB"
    print(f"batch {args.batch_size}, {args.steps} timed steps, precision {args.precision}, "
          f"torch {torch.__version__}, {where}; a process that only imports: "
          f"{float(baseline):.0f} MiB RSS")
    print(f"| generator | parameters | input (s) | objective | step (s) | GFLOP | {memory} |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for size in args.sizes:
        for config in GENERATORS[size]:
            generator = generator_from_config(Path(config))
            params = sum(p.numel() for p in generator.parameters())
            seconds = generator.geometry.input_length / generator.sample_rate
            del generator
            for objective in args.objectives:
                command = [sys.executable, __file__, "--one", config, objective,
                           "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                           "--accelerator", args.accelerator, "--precision", args.precision]
                try:
                    done = subprocess.run(command, capture_output=True, text=True,
                                          timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    cells = [f"over {args.timeout:.0f} s"] + ["-"] * 2
                else:
                    if done.returncode != 0:
                        errors = [line for line in done.stderr.splitlines() if "Error" in line]
                        reason = ("killed (SIGKILL: out of memory)" if done.returncode == -9
                                  else f"exit {done.returncode}: "
                                       f"{(errors or ['?'])[-1].strip()[:80]}")
                        cells = [f"failed, {reason}", "-", "-"]
                    else:
                        r = json.loads(done.stdout.strip().splitlines()[-1])
                        mem = r["peak_gpu_mib"] if args.accelerator == "gpu" else r["peak_rss_mib"]
                        cells = [f"{r['median']:.3f}",
                                 f"{r['flop'] / 1e9:.3g}" if r["flop"] else "n/a", f"{mem:.0f}"]
                print(f"| {Path(config).stem} | {params / 1e6:.2f} M | {seconds:.2f} | {objective} "
                      f"| {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
