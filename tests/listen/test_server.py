"""The storing server: sessions, validated and idempotent submissions, refusals (4xx), no path
traversal, the access token, the export, and no acknowledged rating lost to SIGKILL."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from gansep.listen.build import load_test
from gansep.listen.server import create_app
from gansep.listen.simulate import run_rater
from gansep.listen.store import export_csv


@pytest.fixture
def client(built_test, tmp_path):
    return TestClient(create_app(built_test, tmp_path / "ratings.sqlite"))


def submission(session: dict, trial: str, value: float = 50) -> dict:
    keys = session["stimulus_order"][trial]
    return {"rater": session["rater"], "session": session["session"], "trial": trial,
            "ratings": {k: value for k in keys}, "order": keys, "played": keys,
            "time_on_page_ms": 1234.0}


def stored(db) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT rater, trial, condition, rating FROM ratings "
                                  "ORDER BY trial, condition").fetchall()


def test_page_test_and_audio_are_served_without_conditions(client, built_test):
    assert "mushra.js" in client.get("/").text
    public = client.get("/api/test").json()
    text = json.dumps(public)
    for hidden in ("faint", "noisy", "anchor", "condition", "sha256", "gain"):
        assert hidden not in text
    url = public["trials"][1]["stimuli"][0]["url"]
    response = client.get(url)
    assert response.status_code == 200 and response.content[:4] == b"RIFF"


@pytest.mark.parametrize("path", ["/test.json", "/audio/../test.json", "/%2e%2e/test.json",
                                  "/excerpts/t01/reference.wav", "/audio/t01/../../test.json",
                                  "/..%2f..%2fetc%2fpasswd", "//etc/passwd"])
def test_no_file_outside_the_list_is_served(client, path):
    assert client.get(path).status_code == 404


def test_a_stimulus_changed_after_start_is_not_served(built_test, tmp_path):
    import shutil

    test = tmp_path / "test"
    shutil.copytree(built_test, test)
    client = TestClient(create_app(test, tmp_path / "ratings.sqlite"))
    url = client.get("/api/test").json()["trials"][1]["stimuli"][0]["url"]
    assert client.get(url).status_code == 200
    # Replaced after the server started (the start-up check passed): refused, not served.
    (test / url.lstrip("/")).write_bytes(b"RIFF" + bytes(100))
    response = client.get(url)
    assert response.status_code == 409 and b"RIFF" not in response.content
    assert "changed" in response.text


def test_a_stimulus_linked_inside_the_test_is_served(built_test, tmp_path):
    import shutil

    test = tmp_path / "test"
    shutil.copytree(built_test, test)
    description = load_test(test)
    stimulus = test / description["trials"][1]["stimuli"][0]["file"]
    (test / "kept.wav").write_bytes(stimulus.read_bytes())
    stimulus.unlink()
    stimulus.symlink_to(test / "kept.wav")
    client = TestClient(create_app(test, tmp_path / "ratings.sqlite"))
    url = "/" + description["trials"][1]["stimuli"][0]["file"]
    assert client.get(url).content == (test / "kept.wav").read_bytes()


def test_session_orders_are_seeded_per_rater_and_resumed(client, built_test):
    first = client.post("/api/session", json={"rater": None}).json()
    again = client.post("/api/session", json={"rater": first["rater"]}).json()
    other = client.post("/api/session", json={}).json()
    assert again["rater"] == first["rater"] and again["session"] != first["session"]
    assert again["trial_order"] == first["trial_order"]
    assert again["stimulus_order"] == first["stimulus_order"]
    assert sorted(first["trial_order"]) == ["t01", "t02", "t03"]
    assert other["rater"] != first["rater"]
    assert client.post("/api/session", json={"rater": "made-up"}).json()["rater"] != "made-up"


def test_a_trial_is_stored_once_with_its_conditions(client, built_test, tmp_path):
    session = client.post("/api/session", json={}).json()
    body = submission(session, "t02", 70)
    body["ratings"][body["order"][0]] = 12.5
    first = client.post("/api/ratings", json=body, headers={"User-Agent": "pytest-agent"})
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = client.post("/api/ratings", json=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    rows = stored(tmp_path / "ratings.sqlite")
    trial = next(t for t in load_test(built_test)["trials"] if t["id"] == "t02")
    conditions = {s["key"]: s["condition"] for s in trial["stimuli"]}
    assert sorted(r[2] for r in rows) == sorted(conditions.values())
    assert dict((r[2], r[3]) for r in rows)[conditions[body["order"][0]]] == 12.5
    changed = dict(body, ratings={k: 1 for k in body["ratings"]})
    conflict = client.post("/api/ratings", json=changed)
    assert conflict.status_code == 409 and "first submission stands" in conflict.json()["error"]
    assert len(stored(tmp_path / "ratings.sqlite")) == len(rows)
    resumed = client.post("/api/session", json={"rater": session["rater"]}).json()
    assert resumed["done"] == ["t02"]

    export_csv(tmp_path / "ratings.sqlite", tmp_path / "ratings.csv")
    with open(tmp_path / "ratings.csv") as file:
        exported = list(csv.DictReader(file))
    assert list(exported[0])[:4] == ["rater", "trial", "condition", "rating"]
    assert {r["user_agent"] for r in exported} == {"pytest-agent"}
    assert sorted(int(r["shown"]) for r in exported) == list(range(len(rows)))
    assert all(r["time_on_page_ms"] == "1234.0" for r in exported)


@pytest.mark.parametrize("change,status,says", [
    (lambda b: b["ratings"].update({next(iter(b["ratings"])): 101}), 422, "from 0 to 100"),
    (lambda b: b["ratings"].update({next(iter(b["ratings"])): -1}), 422, "from 0 to 100"),
    (lambda b: b["ratings"].update({next(iter(b["ratings"])): "80"}), 422, "from 0 to 100"),
    (lambda b: b["ratings"].update({next(iter(b["ratings"])): True}), 422, "from 0 to 100"),
    (lambda b: b.update(trial="t99"), 404, "unknown trial 't99'"),
    (lambda b: b.update(trial="training"), 404, "unknown trial"),
    (lambda b: b.update(trial="../../test.json"), 404, "unknown trial"),
    (lambda b: b["ratings"].update({"s-unknown": 50}), 422, "unknown: ['s-unknown']"),
    (lambda b: b["ratings"].pop(next(iter(b["ratings"]))), 422, "missing: 1"),
    (lambda b: b.update(order=b["order"][:-1]), 422, "'order' must list"),
    (lambda b: b.update(played=b["played"][:-2]), 422, "never played"),
    (lambda b: b.update(time_on_page_ms=-5), 422, "time_on_page_ms"),
    (lambda b: b.pop("rater"), 422, "'rater' is missing"),
    (lambda b: b.update(session="forged"), 403, "unknown rater or session"),
])
def test_bad_submissions_are_refused(client, tmp_path, change, status, says):
    session = client.post("/api/session", json={}).json()
    body = submission(session, "t01")
    change(body)
    response = client.post("/api/ratings", json=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert stored(tmp_path / "ratings.sqlite") == []


def test_malformed_json_and_non_objects(client):
    for content in (b"{not json", b"\xff\xfe", b"[1, 2]", b"null"):
        response = client.post("/api/ratings", content=content)
        assert 400 <= response.status_code < 500
        assert response.json()["error"]
    assert client.post("/api/ratings", content=b"x" * 70000).status_code == 413


def test_access_token(built_test, tmp_path):
    client = TestClient(create_app(built_test, tmp_path / "db.sqlite", token="s3cret"))
    assert client.get("/").status_code == 403
    assert client.get("/api/test").status_code == 403
    assert client.post("/api/session", json={}).status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get("/api/test", headers={"X-Gansep-Token": "s3cret"}).status_code == 200


def test_a_database_belongs_to_one_test(built_test, tmp_path, listen_data):
    from gansep.errors import ConfigError
    from gansep.listen.build import build_test

    create_app(built_test, tmp_path / "db.sqlite")
    other = tmp_path / "other"
    build_test(listen_data["references"], listen_data["conditions"], "vocals", 1, 1.5, other,
               seed=3)
    with pytest.raises(ConfigError, match="holds ratings of another test"):
        create_app(other, tmp_path / "db.sqlite")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read())
        try:
            httpx.get(url + "/api/test", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_sigkill_while_raters_submit_loses_no_acknowledged_rating(built_test, tmp_path):
    """Eight raters submit at once through a real uvicorn; the server is killed with SIGKILL
    mid-way. Every submission answered 200 must be in the database afterwards."""
    port, db = _free_port(), tmp_path / "kill.sqlite"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gansep.cli.main", "listen", "serve", str(built_test),
               "--port", str(port), "--db", str(db)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        _wait_until_up(url, server)
        description = load_test(built_test)
        acknowledged, lock = [], threading.Lock()

        def rater(seed: int) -> None:
            client = httpx.Client(base_url=url, timeout=5)

            def post(path, body):
                try:
                    response = client.post(path, json=body)
                except httpx.TransportError:
                    return 0, {}
                return response.status_code, response.json()

            rng = np.random.default_rng(seed)
            try:
                for _ in range(40):  # many sessions per rater, until the server dies
                    for record in run_rater(post, description, lambda t, c: 60, rng):
                        if record["status"] == 200:
                            with lock:
                                acknowledged.append(record)
            except RuntimeError:
                pass  # the session request failed: the server is gone

        threads = [threading.Thread(target=rater, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 30:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.kill()
        server.wait()
    with sqlite3.connect(db) as connection:
        rows = {(r, t, c): v for r, t, c, v in connection.execute(
            "SELECT rater, trial, condition, rating FROM ratings")}
    assert len(acknowledged) >= 30
    for record in acknowledged:
        for condition, value in record["ratings"].items():
            assert rows[(record["rater"], record["trial"], condition)] == value
