"""``gansep score``: score any separator's output folders; arguments only, the work is
[`gansep.eval.evaluate.score_folders`][]."""

from __future__ import annotations

import argparse
from pathlib import Path

from gansep.cli.options import device, distinct_paths, writable_folder
from gansep.cli.scoring import add_scoring_options, print_report, scoring_metrics
from gansep.eval.evaluate import score_folders


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep score", description=(
        "Score any separator's outputs: ESTIMATE_DIR/<track>/<source>.<ext> against "
        "REFERENCE_DIR/<track>/<stem>.<ext>. A source that is not a reference stem (e.g. "
        "accompaniment) is scored against the sum of the other stems."))
    parser.add_argument("references", type=Path, help="folder of track folders of stems")
    parser.add_argument("estimates", type=Path, help="folder of track folders of estimates")
    parser.add_argument("--sources", nargs="+", metavar="NAME",
                        help="the sources to score (default: the estimates' file names, when "
                             "each is a reference stem but at most one rest source such as "
                             "accompaniment, the sum of the stems not estimated)")
    parser.add_argument("--device", type=device, default="cpu",
                        help="where --backend torch computes: cpu, cuda, cuda:1, ...")
    add_scoring_options(parser)
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("references", args.references), ("estimates", args.estimates),
                    ("--perceptual", args.perceptual), ("--metrics", args.metrics)],
                   folders=[("--out", args.out)])
    code = score_folders(args.references, args.estimates, args.out, scoring_metrics(args),
                         args.overwrite, args.sources)
    print_report(args.out / "results.md")
    return code
