"""The ratings database (SQLite in WAL mode): raters, sessions, submitted trials and their
ratings. Every submission is validated against the test and written in one transaction,
committed with ``synchronous=FULL`` before it is acknowledged, so a server killed at any moment
loses no acknowledged rating. Raters are random tokens; nothing personal is stored."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gansep.atomic import atomic_target
from gansep.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (
    rater TEXT PRIMARY KEY, seed INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY, rater TEXT NOT NULL REFERENCES raters(rater),
    started REAL NOT NULL, user_agent TEXT);
CREATE TABLE IF NOT EXISTS submissions (
    rater TEXT NOT NULL REFERENCES raters(rater), trial TEXT NOT NULL,
    session TEXT NOT NULL REFERENCES sessions(session), position INTEGER NOT NULL,
    submitted REAL NOT NULL, time_on_page_ms REAL NOT NULL, user_agent TEXT,
    digest TEXT NOT NULL, PRIMARY KEY (rater, trial));
CREATE TABLE IF NOT EXISTS ratings (
    rater TEXT NOT NULL, trial TEXT NOT NULL, condition TEXT NOT NULL, stimulus TEXT NOT NULL,
    rating REAL NOT NULL CHECK (rating >= 0 AND rating <= 100), shown INTEGER NOT NULL,
    PRIMARY KEY (rater, trial, condition),
    FOREIGN KEY (rater, trial) REFERENCES submissions(rater, trial));
"""


class Rejected(ValueError):
    """A submission the server refuses: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@contextmanager
def connect(path: Path):
    """A connection in autocommit mode (transactions are explicit), WAL, full sync."""
    connection = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout = 30000")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        yield connection
    finally:
        connection.close()


class RatingStore:
    """The database of one test (``test_sha256`` identifies it: a database holds the ratings
    of one test only)."""

    def __init__(self, path: Path, description: dict, test_sha256: str):
        self.path = Path(path)
        # Writers of this process queue here rather than in SQLite's busy handler, whose
        # sleeps (up to 100 ms each) set the tail latency under many concurrent raters.
        self.writing = threading.Lock()
        self.trials = {t["id"]: t for t in description["trials"] if not t.get("training")}
        self.order = list(self.trials)
        try:
            with connect(self.path) as db:
                tables = {row[0] for row in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables and "meta" not in tables:  # never extended with gansep's tables
                    raise ConfigError(f"--db {path}: an SQLite database of something else "
                                      f"(tables {', '.join(sorted(tables)[:5])}), not a gansep "
                                      "ratings database; use a new --db")
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                stored = db.execute("SELECT value FROM meta WHERE key = 'test_sha256'"
                                    ).fetchone()
                if stored is None:
                    db.execute("INSERT INTO meta VALUES ('test_sha256', ?), ('test_name', ?)",
                               (test_sha256, description.get("name", "")))
                db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"--db {path}: not a usable SQLite database ({error})") from None
        if stored is not None and stored[0] != test_sha256:
            raise ConfigError(f"{path}: this database holds ratings of another test "
                              f"(test.json SHA-256 {stored[0][:12]}..., this test's is "
                              f"{test_sha256[:12]}...); use a new --db")

    # ----------------------------------------------------------------- raters and sessions
    def orders(self, seed: int) -> tuple[list[str], dict[str, list[str]]]:
        """The rater's trial order and, per trial, the order its stimuli are shown in: drawn
        from the rater's recorded seed, so a reload shows the same page."""
        rng = np.random.default_rng(seed)
        trials = [self.order[i] for i in rng.permutation(len(self.order))]
        stimuli = {}
        for trial in self.order:
            keys = [s["key"] for s in self.trials[trial]["stimuli"]]
            stimuli[trial] = [keys[i] for i in rng.permutation(len(keys))]
        return trials, stimuli

    def open_session(self, rater: str | None, user_agent: str) -> dict:
        """A new session for ``rater`` (a new rater when None or unknown to this database).
        Returns the rater, session, seed, orders and the trials already submitted."""
        with self.writing, connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seed FROM raters WHERE rater = ?", (rater,)).fetchone() \
                if isinstance(rater, str) else None
            if row is None:
                rater, seed = secrets.token_urlsafe(16), secrets.randbits(53)
                db.execute("INSERT INTO raters VALUES (?, ?, ?)", (rater, seed, time.time()))
            else:
                seed = row[0]
            session = secrets.token_urlsafe(16)
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                       (session, rater, time.time(), user_agent[:512]))
            done = [r[0] for r in db.execute(
                "SELECT trial FROM submissions WHERE rater = ?", (rater,))]
            db.execute("COMMIT")
        trials, stimuli = self.orders(seed)
        return {"rater": rater, "session": session, "seed": seed, "trial_order": trials,
                "stimulus_order": stimuli, "done": done}

    # ------------------------------------------------------------------------ submissions
    def validate(self, body) -> dict:
        """The submission checked against the test: Rejected (4xx) saying what is wrong."""
        if not isinstance(body, dict):
            raise Rejected(400, "the submission must be a JSON object")
        for key, kind in (("rater", str), ("session", str), ("trial", str), ("ratings", dict),
                          ("order", list), ("played", list)):
            if not isinstance(body.get(key), kind):
                raise Rejected(422, f"'{key}' is missing or not a {kind.__name__}")
        time_on_page = body.get("time_on_page_ms")
        if isinstance(time_on_page, bool) or not isinstance(time_on_page, (int, float)) \
                or not math.isfinite(time_on_page) or time_on_page < 0:
            raise Rejected(422, "'time_on_page_ms' must be a number >= 0")
        trial = self.trials.get(body["trial"])
        if trial is None:
            raise Rejected(404, f"unknown trial {body['trial'][:80]!r}")
        keys = {s["key"] for s in trial["stimuli"]}
        ratings = body["ratings"]
        if set(ratings) != keys:
            unknown = sorted(set(ratings) - keys)[:3]
            missing = len(keys - set(ratings))
            raise Rejected(422, f"trial {trial['id']}: ratings must cover exactly its "
                                f"{len(keys)} stimuli (unknown: {unknown}, missing: {missing})")
        for key, value in ratings.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not 0 <= value <= 100:
                raise Rejected(422, f"trial {trial['id']}: rating {value!r} of stimulus {key} "
                                    "is not a number from 0 to 100")
        if sorted(body["order"]) != sorted(keys):
            raise Rejected(422, f"trial {trial['id']}: 'order' must list each of its "
                                "stimuli once")
        unplayed = keys - set(body["played"])
        if unplayed:
            raise Rejected(422, f"trial {trial['id']}: {len(unplayed)} stimulus/stimuli were "
                                "never played; every stimulus must be heard before rating")
        return trial

    def submit(self, body, user_agent: str) -> dict:
        """Validates and stores one trial's ratings in one transaction. Resubmitting the same
        ratings is acknowledged again without a second copy; different ratings for a trial
        already stored are refused (409)."""
        trial = self.validate(body)
        ratings = {k: float(v) for k, v in body["ratings"].items()}
        digest = hashlib.sha256(json.dumps(ratings, sort_keys=True).encode()).hexdigest()
        condition_of = {s["key"]: s["condition"] for s in trial["stimuli"]}
        with self.writing, connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                owner = db.execute("SELECT rater FROM sessions WHERE session = ?",
                                   (body["session"],)).fetchone()
                if owner is None or owner[0] != body["rater"]:
                    raise Rejected(403, "unknown rater or session: reload the page")
                stored = db.execute("SELECT digest FROM submissions WHERE rater = ? AND "
                                    "trial = ?", (body["rater"], trial["id"])).fetchone()
                if stored is not None:
                    if stored[0] != digest:
                        raise Rejected(409, f"trial {trial['id']} was already submitted with "
                                            "other ratings; the first submission stands")
                    db.execute("ROLLBACK")
                    return {"stored": True, "duplicate": True, "trial": trial["id"]}
                position = db.execute("SELECT COUNT(*) FROM submissions WHERE rater = ?",
                                      (body["rater"],)).fetchone()[0]
                db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (body["rater"], trial["id"], body["session"], position, time.time(),
                            float(body["time_on_page_ms"]), user_agent[:512], digest))
                db.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?)", [
                    (body["rater"], trial["id"], condition_of[key], key, value,
                     body["order"].index(key)) for key, value in ratings.items()])
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return {"stored": True, "duplicate": False, "trial": trial["id"]}


# test_sha256: the SHA-256 of the rated test's test.json (the database's own), so that a
# ratings file can be checked against the test it is used with.
EXPORT_COLUMNS = ("rater", "trial", "condition", "rating", "replicate", "shown", "session",
                  "time_on_page_ms", "submitted", "user_agent", "test_sha256")


def export_csv(db_path: Path, out: Path) -> int:
    """Writes every stored rating in the long format ``rater,trial,condition,rating,...``
    (atomically); returns the number of rows."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise ConfigError(f"--db {db_path}: no such file")
    try:
        with connect(db_path) as db:
            rows = db.execute(
                "SELECT r.rater, r.trial, r.condition, r.rating, 1, r.shown, s.session, "
                "s.time_on_page_ms, strftime('%Y-%m-%dT%H:%M:%fZ', s.submitted, 'unixepoch'), "
                "s.user_agent FROM ratings r JOIN submissions "
                "s USING (rater, trial) ORDER BY s.rater, s.position, r.shown").fetchall()
            test = db.execute("SELECT value FROM meta WHERE key = 'test_sha256'").fetchone()
    except sqlite3.DatabaseError as error:
        raise ConfigError(f"--db {db_path}: not a gansep ratings database ({error})") from None
    with atomic_target(out) as tmp, open(tmp, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(row + (test[0] if test else "",) for row in rows)
    return len(rows)
