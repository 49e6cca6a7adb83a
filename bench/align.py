"""Speed and peak memory of ``gansep align`` on a 5-minute stereo 44.1 kHz song with about
3000 characters of lyrics.

    python bench/align.py [--seconds 300] [--model DIR] [--characters 3000]

The model is an export folder (``--model``; the lyrics demo's is
runs/demo-lyrics/multitask/export after ``make lyrics-demo`` and ``gansep export``), or else
the demo's multi-task preset (configs/models/demo-lyrics.yaml) with untrained weights: speed
does not depend on them. ``gansep align`` runs in a subprocess: its wall time (start-up,
decoding, the network's forward pass, the Viterbi search, writing) over the song's duration is
the real-time factor, and its peak resident memory is read from the kernel (ru_maxrss). The
forward pass and the search are also timed apart, in this process.
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

PEAK = ("import resource, sys; from gansep.cli.main import main; sys.argv[0] = 'gansep'; "
        "code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); sys.exit(code)")
WORDS = ("love night light day way heart sky blue home road rain sun moon star fire dream "
         "tomorrow summer ocean winter gold morning warm believe free stay hold only fast").split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--characters", type=int, default=3000)
    parser.add_argument("--model", type=Path, help="export folder (default: the demo preset, "
                                                   "untrained)")
    args = parser.parse_args()
    import torch

    from gansep.data.lyrics import vocabulary
    from gansep.eval.align import align, lyrics_lines, tokenise
    from gansep.export import load_separator, write_separator

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model = args.model
        if model is None:
            from gansep.cli.describe import generator_from_config

            model = folder / "export"
            write_separator(generator_from_config(Path(
                "configs/models/demo-lyrics.yaml")), model)
        rate = 44100
        rng = np.random.default_rng(0)
        audio = (0.1 * rng.standard_normal((int(args.seconds * rate), 2))).astype(np.float32)
        sf.write(folder / "song.wav", audio, rate, subtype="FLOAT")
        lines, count = [], 0
        while count < args.characters:
            line = " ".join(rng.choice(WORDS, size=5))
            lines.append(line)
            count += len(line) + 1
        (folder / "lyrics.txt").write_text("\n".join(lines) + "\n")

        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", PEAK, "align", "--model", str(model),
                              str(folder / "song.wav"), str(folder / "lyrics.txt"), "--out",
                              str(folder / "words.csv")], capture_output=True, text=True)
        wall = time.perf_counter() - start
        if run.returncode != 0:
            raise SystemExit(run.stderr)
        peak = float(run.stdout.split()[-1])

        separator = load_separator(model)
        start = time.perf_counter()
        log_probs, times = separator.lyrics_posteriors(audio.T, rate)
        forward = time.perf_counter() - start
        parsed = lyrics_lines((folder / "lyrics.txt").read_text())
        vocab = separator.generator.vocabulary
        characters = len(tokenise(parsed, vocab).labels)
        start = time.perf_counter()
        align(log_probs, times, parsed, vocab)
        search = time.perf_counter() - start
    name = args.model or "demo-lyrics (untrained)"
    print(f"{args.seconds:.0f} s stereo 44.1 kHz, {characters} characters "
          f"({len(parsed)} lines), {len(times)} frames; model {name}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    print("| gansep align (whole command) | real-time factor | peak RSS (MiB) | forward pass | "
          "Viterbi search |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {wall:.1f} s | {wall / args.seconds:.3f} | {peak:.0f} | {forward:.1f} s | "
          f"{search:.2f} s |")


if __name__ == "__main__":
    main()
