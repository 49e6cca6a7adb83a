"""Reading ratings from any source into one long table ``rater, trial, condition, rating,
replicate``: gansep's export (``listen export``), any CSV in that long format, webMUSHRA's
``mushra.csv`` (``session_uuid, trial_id, rating_stimulus, rating_score``), or the database of
``listen serve``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gansep.errors import ConfigError
from gansep.listen.store import connect, export_csv

COLUMNS = ("rater", "trial", "condition", "rating")
WEBMUSHRA = {"session_uuid": "rater", "trial_id": "trial", "rating_stimulus": "condition",
             "rating_score": "rating"}


def read_ratings(path: Path | None = None, db: Path | None = None) -> pd.DataFrame:
    """The ratings of ``path`` (CSV) or ``db`` (SQLite of ``listen serve``) as a DataFrame
    with columns ``rater, trial, condition, rating, replicate``; ConfigError naming the file
    and the row for anything unusable."""
    if db is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            export_csv(db, Path(folder) / "ratings.csv")
            return read_ratings(Path(folder) / "ratings.csv")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--ratings {path}: no such file")
    try:
        table = pd.read_csv(path, dtype={"rater": str, "trial": str, "condition": str,
                                         "session_uuid": str, "trial_id": str,
                                         "rating_stimulus": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ConfigError(f"{path}: not a readable CSV ({error})") from None
    if set(WEBMUSHRA) <= set(table.columns):
        table = table.rename(columns=WEBMUSHRA)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: no column(s) {', '.join(missing)}; expected "
                          "rater,trial,condition,rating[,replicate,...] or webMUSHRA's "
                          "session_uuid,trial_id,rating_stimulus,rating_score")
    if table.empty:
        raise ConfigError(f"{path}: no ratings")
    for column in ("rater", "trial", "condition"):
        blank = table[column].isna()
        if blank.any():
            raise ConfigError(f"{path}: row {int(np.flatnonzero(blank)[0]) + 2} has no "
                              f"{column}")
        table[column] = table[column].astype(str)
    rating = pd.to_numeric(table["rating"], errors="coerce")
    bad = rating.isna() | (rating < 0) | (rating > 100)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = str(table["rating"].iloc[row])
        raise ConfigError(f"{path}: row {row + 2}: rating {value!r} is not a number from 0 "
                          "to 100")
    table["rating"] = rating.astype(float)
    if "replicate" not in table.columns:
        # Repeated ratings of one item by one rater are replicates, numbered in file order.
        table["replicate"] = table.groupby(["rater", "trial", "condition"]).cumcount() + 1
    return table[[*COLUMNS, "replicate"]].reset_index(drop=True)


def rated_test_sha256(path: Path | None = None, db: Path | None = None) -> str | None:
    """The SHA-256 of the ``test.json`` the ratings of ``path`` (a CSV written by ``listen
    export``) or ``db`` were given for, or None where the file does not record it (a
    webMUSHRA or hand-made CSV); ConfigError when a CSV records more than one."""
    if db is not None:
        import sqlite3

        try:
            with connect(Path(db)) as connection:
                row = connection.execute(
                    "SELECT value FROM meta WHERE key = 'test_sha256'").fetchone()
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"--db {db}: not a gansep ratings database ({error})") from None
        return row[0] if row else None
    table = pd.read_csv(path, dtype=str)
    if "test_sha256" not in table.columns:
        return None
    values = set(table["test_sha256"].dropna())
    if len(values) > 1:
        raise ConfigError(f"--ratings {path}: rows from {len(values)} different tests "
                          "(test_sha256); a fit needs the ratings of one test")
    return values.pop() if values else None
