"""Fault-injection soak: a GAN training run killed with SIGKILL at random moments and resumed
with ``--ckpt_path last``, ``--cycles`` times. After every kill, the checkpoint left behind is
compared with the checkpoint an uninterrupted run wrote at the same step (weights, EMA, both
optimisers, schedulers, step and loader position); at the end the final weights are compared.

    python bench/soak.py [--cycles 20] [--steps 1500] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gansep.data.toy import make_toy_dataset

ROOT = Path(__file__).resolve().parents[1]


def fit_args(data: Path, out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "gansep.cli.main", "fit",
            "--config", str(ROOT / "configs/demo-gan.yaml"),
            "--model.init_args.generator.init_args.levels", "4",
            "--model.init_args.generator.init_args.output_length", "1024",
            "--model.init_args.warmup_steps", "20", "--trainer.max_steps", str(steps),
            "--trainer.max_epochs", "-1",
            "--data.collection.init_args.root", str(data), "--data.batch_size", "2",
            "--data.excerpts_per_epoch", "14", "--trainer.enable_progress_bar", "false",
            "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
            "--trainer.logger.init_args.save_dir", str(out / "runs"),
            "--trainer.callbacks.init_args.dirpath", str(out / "ckpt"),
            "--trainer.callbacks.init_args.every_n_train_steps", "1",
            "--trainer.callbacks.init_args.monitor", "null",
            "--trainer.callbacks.init_args.save_top_k", "-1",
            "--trainer.callbacks.init_args.filename", "{step}"]


def same_state(a: dict, b: dict) -> bool:
    if a["global_step"] != b["global_step"]:
        return False
    if any(not torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]):
        return False
    for x, y in zip(a["optimizer_states"], b["optimizer_states"]):
        for sx, sy in zip(x["state"].values(), y["state"].values()):
            if any(not torch.equal(sx[k], sy[k]) for k in sx if torch.is_tensor(sx[k])):
                return False
    return a["lr_schedulers"] == b["lr_schedulers"] and (
        a["loops"]["fit_loop"]["state_dict"] == b["loops"]["fit_loop"]["state_dict"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = make_toy_dataset(folder / "toy", duration=3.0,
                                tracks={"train": 4, "valid": 1, "test": 1})
        straight = folder / "straight"
        subprocess.run(fit_args(data, straight, args.steps), check=True, capture_output=True,
                       env=env)
        killed = folder / "killed"
        identical, cycles_run = 0, 0
        for cycle in range(args.cycles):
            command = fit_args(data, killed, args.steps)
            if (killed / "ckpt" / "last.ckpt").exists():
                command += ["--ckpt_path", "last"]
            with open(folder / "killed.log", "w") as output:
                process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                           env=env)
                time.sleep(rng.uniform(5.0, 9.0))
            if process.poll() is not None:
                print(f"run ended by itself (exit {process.returncode}):\n"
                      + (folder / "killed.log").read_text()[-1500:])
                break  # the run ended before this kill
            process.send_signal(signal.SIGKILL)
            process.wait()
            if not (killed / "ckpt" / "last.ckpt").exists():
                print(f"cycle {cycle + 1}: killed before the first checkpoint (not counted)",
                      flush=True)
                continue
            cycles_run += 1
            left = torch.load(killed / "ckpt" / "last.ckpt", weights_only=False)
            reference = torch.load(straight / "ckpt" / f"step={left['global_step']}.ckpt",
                                   weights_only=False)
            ok = same_state(left, reference)
            identical += ok
            print(f"cycle {cycle + 1}: killed at step {left['global_step']}, state "
                  f"{'identical' if ok else 'DIFFERENT'}", flush=True)
        subprocess.run(fit_args(data, killed, args.steps) + ["--ckpt_path", "last"],
                       check=True, capture_output=True, env=env)
        final = same_state(torch.load(killed / "ckpt" / "last.ckpt", weights_only=False),
                           torch.load(straight / "ckpt" / "last.ckpt", weights_only=False))
    print(f"{identical} of {cycles_run} kill/resume cycles left a state identical to the "
          f"uninterrupted run's at the same step; final state after {args.steps} steps "
          f"{'identical' if final else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
