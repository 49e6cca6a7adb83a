"""``gansep ambiguity DATA ESTIMATES --out DIR``: did a separator average or choose the
backing vocals of ambiguous data? Arguments only; the work is
[`gansep.eval.ambiguity.evaluate_ambiguity`][]."""

from __future__ import annotations

import argparse
from pathlib import Path

from gansep.cli.options import distinct_paths, writable_folder
from gansep.data.tracks import SPLITS
from gansep.eval.ambiguity import evaluate_ambiguity


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep ambiguity", description=(
        "For every backing phrase of ambiguous data (gansep make-data ambiguous), the share g "
        "of the backing voice a separator's estimate kept (least squares on the two vocal "
        "parts): decided (g < 0.25 or > 0.75) or averaged. Writes ambiguity.csv, ambiguity.md "
        "and ambiguity.png to --out."))
    parser.add_argument("data", type=Path, help="ambiguous data: DATA/<split>/<track>/ with "
                                                "parts/ and ambiguity.csv")
    parser.add_argument("estimates", type=Path, help="ESTIMATES/<track>/<source>.<ext> (e.g. "
                        "gansep evaluate --write-estimates' OUT/estimates)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", choices=["vocals", "accompaniment"], default="vocals")
    parser.add_argument("--split", choices=SPLITS, default="test")
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("data", args.data), ("estimates", args.estimates)],
                   folders=[("--out", args.out)])
    evaluate_ambiguity(args.data, args.estimates, args.out, args.source, args.split)
    print((args.out / "ambiguity.md").read_text(), end="")
    return 0
