"""Time ``gansep COMMAND --help`` for every command, cold (an empty help cache: the command's
parser is built, importing what it needs) and warm (from the cache).

    python bench/help.py [--repeats 3]

Prints a table: median seconds of each, as whole processes (the console script).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gansep.cli.commands import LIGHTNING, TOOLS
from gansep.cli.main import LISTEN

GANSEP = str(Path(sys.executable).with_name("gansep"))


def seconds(command: list[str], cache: str) -> float:
    start = time.perf_counter()
    subprocess.run([GANSEP, *command, "--help"], check=True, capture_output=True,
                   env={**os.environ, "GANSEP_CACHE": cache})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    commands = [[c] for c in (*LIGHTNING, *TOOLS)] + [["listen", c] for c in LISTEN]
    print("| command | cold (s) | warm (s) |\n|---|---:|---:|")
    for command in commands:
        cold, warm = [], []
        for _ in range(args.repeats):
            cache = tempfile.mkdtemp()
            cold.append(seconds(command, cache))
            warm.append(seconds(command, cache))
            shutil.rmtree(cache)
        print(f"| {' '.join(command)} --help | {statistics.median(cold):.2f} | "
              f"{statistics.median(warm):.2f} |", flush=True)


if __name__ == "__main__":
    main()
