"""The cost of the lyrics head: a multi-task training step (separation + CTC) against the same
Wave-U-Net trained for separation alone.

    python bench/multitask_step.py [--config configs/models/demo-lyrics.yaml] [--batch-size 4]
                                   [--steps 5]

Both steps run forward, loss, backward and the optimiser step on random input of the model's
exact input length; the multi-task step also builds the CTC segments of two lines per example
(as the data pipeline gives them) and evaluates the Lyrics term. The baseline is the plain
WaveUNet with the same architecture (no head). Prints the median step times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import torch
from train_step import time_steps  # bench/ is on the path when a bench script runs

from gansep.cli.describe import generator_from_config
from gansep.losses import L1, Lyrics, Objective
from gansep.losses.lyrics import ctc_segments
from gansep.models.waveunet import WaveUNet


def multitask_loss(generator, objective, batch_size: int):
    """The multi-task step's loss: one pass with the head, the CTC segments of two lines per
    example (a third of the window each, 4 characters per second of window), both terms."""
    g = generator.geometry
    window = g.output_length / generator.sample_rate
    lines = [[(window * a, window * (a + 0.3), [2 + (i % 20) for i in range(int(4 * window))])
              for a in (0.05, 0.5)] for _ in range(batch_size)]

    def loss(mixture, reference):
        estimates, log_probs = generator.separate_and_transcribe(mixture)
        segments = ctc_segments(generator.frame_times(g.input_length), window, lines)
        return objective(estimates, reference, transcription=(log_probs, segments))[0]
    return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/models/demo-lyrics.yaml"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    multitask = generator_from_config(args.config)
    config = {k: v for k, v in multitask.config.items()
              if k not in ("vocabulary", "lyrics_rate", "lyrics_hidden")}
    plain = WaveUNet(**config)
    # Interleaved, so drift in machine load hits both alike.
    plain_times, multitask_times = [], []
    for _ in range(2):
        plain_times += time_steps(plain, Objective([L1()]), args.batch_size, args.steps)
        objective = Objective([L1()], lyrics=Lyrics())
        multitask_times += time_steps(multitask, objective, args.batch_size, args.steps,
                                      multitask_loss(multitask, objective, args.batch_size))
    g = multitask.geometry
    print(f"{args.config} batch {args.batch_size}: input {g.input_length}, output "
          f"{g.output_length} samples; lyrics head on block {multitask.lyrics_block} "
          f"({multitask.frame_rate:.2f} frames/s); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print("| step | median (s) | min (s) | max (s) | steps |")
    print("|---|---:|---:|---:|---:|")
    for name, times in (("separation (L1)", plain_times),
                        ("multi-task (L1 + lyrics CTC)", multitask_times)):
        print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | "
              f"{max(times):.3f} | {len(times)} |")
    print(f"ratio multi-task / separation: "
          f"{statistics.median(multitask_times) / statistics.median(plain_times):.3f}")


if __name__ == "__main__":
    main()
