"""Real-time factor and peak memory of ``gansep separate`` on a 3-minute stereo 44.1 kHz file
for the M4 and M5-HighSR presets (untrained weights: speed does not depend on them).

    python bench/separate.py [--seconds 180] [--presets m4 m5-highsr] [--device cuda]

Each preset is exported to a temporary folder, then ``gansep separate`` runs in a subprocess;
the wall time of that whole command (start-up, reading, resampling, separation, writing) over
the audio's duration is the real-time factor, and the subprocess's peak resident memory is
read from the kernel (ru_maxrss); on a GPU, also the peak memory torch allocated there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from gansep.cli.describe import generator_from_config
from gansep.export import write_separator


# Runs the gansep command in this process, then prints its own peak RSS and peak GPU memory
# (0 without CUDA), in MiB.
PEAK = ("import resource, sys, torch; from gansep.cli.main import main; sys.argv[0] = 'gansep'; "
        "code = main(sys.argv[1:]); "
        "gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, gpu); sys.exit(code)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--presets", nargs="+", default=["m4", "m5-highsr"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--long-seconds", type=float, default=600.0,
                        help="also separate a file this long with the first preset (0: skip), "
                             "to show that memory does not grow with the file")
    parser.add_argument("--device", default="cpu", help="passed to gansep separate --device")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        audio = (np.random.default_rng(0).standard_normal((int(args.seconds * 44100), 2))
                 * 0.1).astype(np.float32)
        sf.write(folder / "track.wav", audio, 44100, subtype="PCM_16")
        for preset in args.presets:
            torch.manual_seed(0)
            generator = generator_from_config(Path(f"configs/models/{preset}.yaml"))
            write_separator(generator, folder / preset)
            for precision in args.precisions:
                # ru_maxrss of children is the largest so far: run each in a fresh shell whose
                # own maximum is reported by the child itself.
                start = time.perf_counter()
                result = subprocess.run(
                    [sys.executable, "-c", PEAK, "separate", "--model", str(folder / preset),
                     str(folder / "track.wav"), "--out", str(folder / f"out-{preset}"),
                     "--precision", precision, "--device", args.device],
                    check=True, capture_output=True, text=True)
                elapsed = time.perf_counter() - start
                peak, gpu = map(float, result.stdout.strip().splitlines()[-1].split())
                rows.append((f"{preset} {precision}", elapsed, elapsed / args.seconds, peak, gpu))
        if args.long_seconds:
            long = (np.random.default_rng(1).standard_normal((int(args.long_seconds * 44100),
                                                               2)) * 0.1).astype(np.float32)
            sf.write(folder / "long.wav", long, 44100, subtype="PCM_16")
            del long
            preset = args.presets[0]
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", PEAK, "separate", "--model", str(folder / preset),
                 str(folder / "long.wav"), "--out", str(folder / "out-long"),
                 "--device", args.device], check=True, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            peak, gpu = map(float, result.stdout.strip().splitlines()[-1].split())
            rows.append((f"{preset} fp32, {args.long_seconds:.0f} s file", elapsed,
                         elapsed / args.long_seconds, peak, gpu))
    where = (torch.cuda.get_device_name() if args.device.startswith("cuda")
             else f"{torch.get_num_threads()} CPU threads")
    print(f"gansep separate, {args.seconds:.0f} s stereo 44.1 kHz WAV, torch "
          f"{torch.__version__}, {where}")
    print("| preset, precision | wall (s) | real-time factor | peak RSS (MiB) | peak GPU (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for preset, elapsed, rtf, peak, gpu in rows:
        print(f"| {preset} | {elapsed:.1f} | {rtf:.3f} | {peak:.0f} | {gpu:.0f} |")


if __name__ == "__main__":
    main()
