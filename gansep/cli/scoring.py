"""The options ``gansep evaluate`` and ``gansep score`` share, and the metrics they name (a
module of its own: the metrics import torch, which the other tools need not load)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gansep.cli.options import in_range
from gansep.eval.metrics import FRAME_SECONDS, read_metrics, standard_metrics

_frame = in_range(float, *FRAME_SECONDS, what=f"seconds from {FRAME_SECONDS[0]:g} to "
                  f"{FRAME_SECONDS[1]:g}")


def add_scoring_options(parser: argparse.ArgumentParser) -> None:
    """The options ``gansep evaluate`` and ``gansep score`` share: output, BSSEval framing,
    resumption and the perceptual score."""
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--backend", choices=["fast", "torch", "museval"], default="fast",
                        help="BSSEval v4 implementation (default: fast, numpy; torch: the "
                             "same in torch on --device; museval: the reference)")
    parser.add_argument("--window", type=_frame, default=1.0,
                        help=f"frame length, seconds ({FRAME_SECONDS[0]:g} to "
                             f"{FRAME_SECONDS[1]:g})")
    parser.add_argument("--hop", type=_frame, default=1.0,
                        help=f"frame hop, seconds ({FRAME_SECONDS[0]:g} to {FRAME_SECONDS[1]:g})")
    parser.add_argument("--overwrite", action="store_true",
                        help="score again the tracks whose stored results came from another "
                             "checkpoint, data or options (by default such a rerun is refused)")
    parser.add_argument("--perceptual", type=Path, metavar="DIR",
                        help="also report the perceptual score fitted by gansep listen "
                             "fit-objective (DIR holds perceptual.json)")
    parser.add_argument("--metrics", type=Path, metavar="FILE",
                        help="YAML listing more metrics to score (metrics: [{class_path, "
                             "init_args}], Metric classes; see gansep.eval.metrics)")


def scoring_metrics(args: argparse.Namespace, extra: list | tuple = ()) -> list:
    """The metrics of `add_scoring_options`: BSSEval v4 framed by --window/--hop with
    --backend, SI-SDR, the --perceptual score, ``extra`` and those of --metrics."""
    listed = read_metrics(args.metrics) if args.metrics is not None else []
    return standard_metrics(args.window, args.hop, args.backend, args.perceptual,
                            [*extra, *listed], device=str(getattr(args, "device", "cpu")))


def print_report(path: Path) -> None:
    """The command's report (a results table it wrote) on stdout; diagnostics stay on
    stderr."""
    if path.is_file():
        sys.stdout.write(path.read_text())
