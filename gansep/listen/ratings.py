"""Reading ratings from any source into one long table ``rater, trial, condition, rating,
replicate``: gansep's export (``listen export``), any CSV in that long format, webMUSHRA's
``mushra.csv`` (``session_uuid, trial_id, rating_stimulus, rating_score``), or the database of
``listen serve``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gansep.errors import ConfigError

COLUMNS = ("rater", "trial", "condition", "rating")
WEBMUSHRA = {"session_uuid": "rater", "trial_id": "trial", "rating_stimulus": "condition",
             "rating_score": "rating"}


def read_ratings(path: Path | None = None, db: Path | None = None) -> pd.DataFrame:
    """The ratings of ``path`` (CSV) or ``db`` (SQLite of ``listen serve``) as a DataFrame
    with columns ``rater, trial, condition, rating, replicate``; ConfigError naming the file
    and the row for anything unusable."""
    if db is not None:
        import tempfile

        from gansep.listen.store import export_csv

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
