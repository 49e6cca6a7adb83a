"""Where LoRA's step time goes: one generator's training step (L1, Adam) with activation
checkpointing alone, and with rank-8 adapters on every layer or only on the layers that
``--targets`` names, each the median of ``--steps`` timed steps after a warm-up step.

    python bench/lora_step.py [--config configs/models/bs-roformer.yaml] [--seconds 1]
                              [--depth 2] [--targets "model.layers.*"] [--steps 3]

``--seconds`` and ``--depth`` shrink a paper-size RoFormer (its excerpt, its layers) so that
a step takes seconds on the CPU; every layer keeps its paper size. The adapters' own work
(two more products forward and four backward per adapted layer, and the scaled sum beside
the layer's output) is what the rows compare, not memory (``bench/generators.py``).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import yaml

from gansep.losses import Objective
from gansep.models import build_generator
from gansep.models.lora import LoRA

from train_step import time_steps  # bench/ is the script's folder: on sys.path


def generator(config: Path, seconds: float, depth: int | None):
    spec = yaml.safe_load(config.read_text())
    args = spec["init_args"]
    args["segment_length"] = int(round(seconds * args["sample_rate"] / 441)) * 441
    if depth is not None:
        args["arguments"]["depth"] = depth
    built = build_generator(spec["class_path"], args)
    built.use_checkpointing(True)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/models/bs-roformer.yaml"))
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--targets", default="model.layers.*",
                        help="glob pattern of the layers the third row adapts")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rows = [("checkpointing", None), ("lora, every layer", ["*"]),
            (f"lora, {args.targets}", [args.targets])]
    print(f"{args.config}, {args.seconds} s, depth {args.depth}, batch 1, fp32, checkpointed; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| mode | adapted layers | trainable | median step (s) | min (s) | max (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, targets in rows:
        torch.manual_seed(0)
        model = generator(args.config, args.seconds, args.depth)
        layers = LoRA(rank=args.rank, targets=targets).apply(model) if targets else 0
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        times = time_steps(model, Objective(), 1, args.steps)
        print(f"| {name} | {layers} | {trainable / 1e6:.2f} M | {statistics.median(times):.2f} "
              f"| {min(times):.2f} | {max(times):.2f} |", flush=True)
        del model


if __name__ == "__main__":
    main()
