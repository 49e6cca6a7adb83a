"""``gansep plugins``: the installed plugins and the classes they export (see
`gansep.plugins`)."""

from __future__ import annotations

import argparse

from gansep.plugins import __doc__ as about, describe


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep plugins", description=about,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    print(describe())
    return 0
