"""``gansep compare RUN_DIR... --out DIR``: compare training objectives on their test results
(see `gansep.experiments.compare`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import distinct_paths, writable_folder
from gansep.experiments.compare import __doc__ as about, compare_runs

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep compare", description=about.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (or a sweep's runs dir)")
    parser.add_argument("--baseline", help="objective the others are tested against")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("run", run) for run in args.runs], folders=[("--out", args.out)])
    report = compare_runs(args.runs, args.out, args.baseline)
    print(report, end="")  # the report on stdout, diagnostics on stderr
    log.info("wrote %s", args.out)
    return 0
