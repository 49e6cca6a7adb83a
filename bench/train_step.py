"""Time one training step (forward, loss, backward, optimiser step) of a generator preset.

    python bench/train_step.py [--config configs/models/m4.yaml] [--batch-size 4] [--steps 5]

Prints the median and spread over ``--steps`` timed steps after one warm-up step, on random
input of the model's exact input length (the data pipeline is not timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from gansep.cli.describe import generator_from_config
from gansep.losses import Objective


def time_steps(generator, objective, batch_size: int, steps: int, loss=None) -> list[float]:
    """Seconds of each step after a warm-up step; ``loss(mixture, reference)`` replaces
    ``objective(generator(mixture), reference)[0]`` when given."""
    g = generator.geometry
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4)
    mixture = torch.randn(batch_size, generator.channels, g.input_length) * 0.1
    reference = torch.randn(batch_size, len(generator.sources), generator.channels,
                            g.output_length) * 0.1
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        value = (loss(mixture, reference) if loss is not None
                 else objective(generator(mixture), reference)[0])
        value.backward()
        optimizer.step()
        if step:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/models/m4.yaml"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = generator_from_config(args.config)
    times = time_steps(generator, Objective(), args.batch_size, args.steps)
    g = generator.geometry
    print(f"{args.config} batch {args.batch_size}: input {g.input_length}, output "
          f"{g.output_length} samples; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print("| objective | median step (s) | min (s) | max (s) | steps |")
    print("|---|---:|---:|---:|---:|")
    print(f"| l1 | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} "
          f"| {len(times)} |")


if __name__ == "__main__":
    main()
