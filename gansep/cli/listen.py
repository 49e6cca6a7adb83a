"""``gansep listen build|serve|export|metrics|analyse``: MUSHRA listening tests. Arguments only;
the work is `gansep.listen`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.atomic import sha256_file
from gansep.cli.options import distinct_paths, in_range, positive_int, writable_folder
from gansep.errors import ConfigError
from gansep.eval.perceptual import MODEL_FILE, OBJECTIVE_FILE
from gansep.extras import require

require("listen")  # the server and the ratings' analysis: one line when the extra is missing

from gansep.listen.analysis import analyse  # noqa: E402 - after the extra's check
from gansep.listen.build import build_test  # noqa: E402
from gansep.listen.fit import fit_objective, markdown  # noqa: E402
from gansep.listen.metrics import write_metrics  # noqa: E402
from gansep.listen.ratings import rated_test_sha256, read_ratings  # noqa: E402
from gansep.listen.server import serve  # noqa: E402
from gansep.listen.store import export_csv  # noqa: E402

log = logging.getLogger("gansep")


def _condition(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, Path(folder)


# BS.1534-3: excerpts of about 10 s, at most 12 s.
_seconds = in_range(float, 1.0, 12.0, "excerpt seconds from 1 to 12 (BS.1534-3: about 10 s, "
                    "at most 12 s)")
_fraction = in_range(float, 0.0, 1.0, "a fraction in (0, 1]", low_inclusive=False)
_lufs = in_range(float, -70.0, -1.0, "a loudness from -70 to -1 LUFS")
_port = in_range(int, 0, 65535, "a TCP port 0-65535")


def _file_out(path: Path, option: str, overwrite: bool = False) -> None:
    writable_folder(Path(path).parent if str(Path(path).parent) else Path("."), option)
    if Path(path).is_dir():
        raise ConfigError(f"{option} {path}: is a folder, expected a file name")
    if Path(path).exists() and not overwrite:
        raise ConfigError(f"{option} {path}: exists; nothing written: pass --overwrite to "
                          "replace it, or choose another file name")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="gansep listen", description=(
        "MUSHRA listening tests (ITU-R BS.1534-3) of separations: build a test, serve it to "
        "raters, export the ratings, compute the metrics of its stimuli, analyse, fit a "
        "perceptual objective."))
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build a test folder from separations")
    build.add_argument("--references", type=Path, required=True,
                       help="folder of track folders of reference stems")
    build.add_argument("--condition", type=_condition, action="append", required=True,
                       metavar="NAME=DIR", help="a separator's output folder "
                       "(DIR/<track>/<source>.<ext>, as evaluate --write-estimates or separate "
                       "write); repeat for each condition")
    build.add_argument("--source", default="vocals", help="the source rated (default: vocals)")
    build.add_argument("--trials", type=positive_int, default=10, help="rated trials (default 10)")
    build.add_argument("--seconds", type=_seconds, default=10.0,
                       help="excerpt length, 1-12 s (default 10)")
    build.add_argument("--out", type=Path, required=True, help="the test folder to write")
    build.add_argument("--seed", type=int, default=0, help="excerpt choice and file keys")
    build.add_argument("--loudness", type=_lufs, default=-23.0,
                       help="integrated loudness of every stimulus, LUFS (default -23; lowered "
                            "for a trial where a stimulus would clip)")
    build.add_argument("--min-activity", type=_fraction, default=0.8,
                       help="fraction of an excerpt's 0.1 s blocks where the reference source "
                            "must be active (default 0.8)")
    build.add_argument("--name", help="the test's title on the page (default: the folder name)")

    serve = commands.add_parser("serve", help="serve a test to raters and store the ratings")
    serve.add_argument("test", type=Path, help="test folder (from listen build)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--db", type=Path, help="SQLite ratings database "
                       "(default: TEST/ratings.sqlite)")
    serve.add_argument("--token", help="an access token every request must carry (?token=)")

    export = commands.add_parser("export", help="write the stored ratings as CSV")
    export.add_argument("--db", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True, help="CSV file")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    metrics = commands.add_parser("metrics", help="objective metrics of every stimulus")
    metrics.add_argument("test", type=Path, help="test folder")
    metrics.add_argument("--out", type=Path, required=True, help="CSV file")
    metrics.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    analyse = commands.add_parser("analyse", help="screening, statistics and correlations")
    given = analyse.add_mutually_exclusive_group(required=True)
    given.add_argument("--ratings", type=Path, help="ratings CSV (long format or webMUSHRA)")
    given.add_argument("--db", type=Path, help="ratings database of listen serve")
    analyse.add_argument("--metrics", type=Path, help="metrics CSV (trial,condition,<metric>...)")
    analyse.add_argument("--aggregate", choices=["mean", "median"], default="mean",
                         help="how raters' ratings of one item are combined (default mean)")
    analyse.add_argument("--reference", default="reference", help="hidden reference condition")
    analyse.add_argument("--anchors", nargs="*", default=["anchor-3.5kHz", "anchor-7kHz"],
                         help="anchor conditions (left out of the correlations)")
    analyse.add_argument("--mid-anchor", default="anchor-7kHz",
                         help="the mid anchor of post-screening")
    analyse.add_argument("--no-screening", action="store_true",
                         help="keep every rater (no BS.1534-3 post-screening)")
    analyse.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    analyse.add_argument("--out", type=Path, required=True, help="results folder")

    fit = commands.add_parser("fit-objective", help="fit a perceptual objective to ratings")
    given = fit.add_mutually_exclusive_group(required=True)
    given.add_argument("--ratings", type=Path, help="ratings CSV (long format or webMUSHRA)")
    given.add_argument("--db", type=Path, help="ratings database of listen serve")
    fit.add_argument("--test", type=Path, required=True, help="the rated test folder")
    fit.add_argument("--terms", nargs="+", help="candidate terms (default: all of "
                     "gansep.eval.perceptual.TERMS)")
    fit.add_argument("--aggregate", choices=["mean", "median"], default="mean",
                     help="how raters' ratings of one stimulus are combined (default mean)")
    fit.add_argument("--exclude", nargs="*", default=[],
                     help="conditions left out of the fit (the hidden reference always is)")
    fit.add_argument("--out", type=Path, required=True, help="folder for objective.yaml etc.")
    fit.add_argument("--overwrite", action="store_true",
                     help="replace an objective fitted earlier in --out")
    return main


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "build":
        writable_folder(args.out)
        distinct_paths([("--references", args.references)]
                       + [(f"--condition {name}", folder) for name, folder in args.condition],
                       folders=[("--out", args.out)])
        conditions = dict(args.condition)
        if len(conditions) != len(args.condition):
            raise ConfigError("two --condition options share a name")
        build_test(args.references, conditions, args.source, args.trials, args.seconds,
                   args.out, args.seed, args.loudness, args.min_activity, args.name)
    elif args.command == "serve":
        serve(args.test, args.db or args.test / "ratings.sqlite", args.host, args.port,
              args.token)
    elif args.command == "export":
        distinct_paths([("--db", args.db)], files=[("--out", args.out)])
        _file_out(args.out, "--out", args.overwrite)
        rows = export_csv(args.db, args.out)
        log.info("wrote %s: %d ratings", args.out, rows)
    elif args.command == "metrics":
        distinct_paths([("test", args.test)], files=[("--out", args.out)])
        _file_out(args.out, "--out", args.overwrite)
        write_metrics(args.test, args.out)
    elif args.command == "fit-objective":
        writable_folder(args.out)
        distinct_paths([("--ratings", args.ratings), ("--db", args.db), ("--test", args.test)],
                       folders=[("--out", args.out)])
        earlier = [args.out / f for f in (MODEL_FILE, OBJECTIVE_FILE) if (args.out / f).exists()]
        if earlier and not args.overwrite:
            raise ConfigError(f"--out {args.out}: holds an objective fitted earlier "
                              f"({earlier[0].name}); nothing written: pass --overwrite to "
                              "replace it, or choose another --out")
        ratings = read_ratings(args.ratings, args.db)
        rated = rated_test_sha256(args.ratings, args.db)
        test_sha256 = sha256_file(args.test / "test.json") if (args.test / "test.json").is_file() \
            else None
        if rated is None:
            log.warning("%s records no test_sha256 (not written by gansep listen export): "
                        "it cannot be checked to be the ratings of %s", args.ratings or args.db,
                        args.test)
        elif test_sha256 is not None and rated != test_sha256:
            raise ConfigError(f"{args.ratings or args.db}: the ratings of another test "
                              f"(test_sha256 {rated[:12]}...; {args.test / 'test.json'} is "
                              f"{test_sha256[:12]}...): nothing fitted")
        model, table = fit_objective(ratings, args.test, args.out, args.terms, args.aggregate,
                                     tuple(args.exclude), str(args.ratings or args.db))
        print(markdown(table, model), end="")
    else:
        writable_folder(args.out)
        distinct_paths([("--ratings", args.ratings), ("--db", args.db),
                        ("--metrics", args.metrics)], folders=[("--out", args.out)])
        report = analyse(args.ratings, args.db, args.metrics, args.out, args.aggregate,
                         args.reference, args.anchors, args.mid_anchor, not args.no_screening,
                         args.seed)
        print(report)
    return 0
