"""Every command against the broken-input corpus, each case a process of its own (forked from a
server that has imported gansep, torch and Lightning once; see cases.py for what each case
asserts). The cases run two at a time, once per session, before their tests read the
outcomes."""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import multiprocessing.connection
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.robustness import corpus as corpus_module
from tests.robustness.cases import CASES, TOOLS, Case

# Slow: every command as a process over the broken-input corpus. Under pytest-xdist, make
# test's --dist loadfile keeps this module on one worker: the session fixture `outcomes` runs
# every selected case at once, and would run them all again on a second worker.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# multiprocessing's Process objects are not thread-safe: ``start()`` polls every other child,
# and two threads reading one forkserver sentinel at once can leave one of them with EOF, which
# multiprocessing reports as exit status 255. Starting and reaping under one lock keeps each
# status read once.
_PROCESSES = threading.Lock()


def snapshot(folder: Path) -> dict[str, str]:
    """``{path: SHA-1 of its bytes}`` of every file below ``folder``."""
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fill(text: str, corpus: Path, workspace: Path) -> str:
    return text.replace("{c}", str(corpus)).replace("{w}", str(workspace))


def _command(args: list[str], workspace: str, stdout: str, stderr: str) -> None:
    """The ``gansep`` command in a process forked from the preloaded server (see
    `runner`): as the console script runs it, with its own working folder, environment,
    standard streams and exit status; an uncaught exception prints its traceback and exits 1,
    as Python does."""
    import sys
    import traceback

    os.chdir(workspace)
    os.environ.pop("GANSEP_DEBUG", None)
    os.environ["PYTHONPATH"] = str(ROOT)
    for fd, path in ((1, stdout), (2, stderr)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)
    sys.argv = ["gansep", *args]
    from gansep.cli.main import main

    try:
        code = main()
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        if not isinstance(exit.code, (int, type(None))):
            print(exit.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what Python itself would print
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


@functools.lru_cache(maxsize=1)
def runner():
    """A forkserver that has imported gansep's command line, torch and Lightning once: every
    case forks from it, so a case costs its own work, not 2-6 s of imports (the command runs as
    a process of its own all the same)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "pytorch_lightning", "jsonargparse",
                                    "gansep.cli.main", "gansep.cli.lightning"])
    return context


def execute(case: Case, corpus: Path, workspace: Path) -> dict:
    workspace.mkdir(parents=True)
    for source, target in case.copy:
        if (corpus / source).is_file():
            shutil.copy(corpus / source, workspace / target)
        else:
            shutil.copytree(corpus / source, workspace / target)
    before = snapshot(workspace)
    args = [fill(a, corpus, workspace) for a in case.args]
    streams = workspace.parent / f"{workspace.name}.out", workspace.parent / f"{workspace.name}.err"
    process = runner().Process(target=_command, args=(args, str(workspace), *map(str, streams)))
    with _PROCESSES:
        process.start()
    if not multiprocessing.connection.wait([process.sentinel], 300):
        process.kill()
    with _PROCESSES:
        process.join()
    stdout, stderr = (path.read_text(errors="replace") for path in streams)
    return {"code": process.exitcode, "output": stdout + stderr, "stderr": stderr,
            "before": before, "after": snapshot(workspace)}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return corpus_module.build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def outcomes(request, corpus, tmp_path_factory) -> dict:
    """Runs the selected cases (two subprocesses at a time) and checks the corpus after."""
    selected = {item.callspec.params["case"].name for item in request.session.items
                if getattr(item, "callspec", None) and "case" in item.callspec.params}
    cases = [case for case in CASES if case.name in selected]
    workspaces = tmp_path_factory.mktemp("cases")
    before = snapshot(corpus)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip((c.name for c in cases), pool.map(
            lambda case: execute(case, corpus, workspaces / case.name), cases)))
    results["<corpus>"] = (before, snapshot(corpus))
    return {"results": results, "workspaces": workspaces}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case, corpus, outcomes):
    if case.needs_no_cuda and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the no-CUDA message cannot be provoked")
    outcome = outcomes["results"][case.name]
    workspace = outcomes["workspaces"] / case.name
    output = outcome["output"]
    where = f"gansep {' '.join(case.args)}:\n{output[-3000:]}"
    assert outcome["code"] == case.code, where
    assert "Traceback" not in outcome["stderr"], where
    for text in case.says:
        assert fill(text, corpus, workspace) in output, where
    for text in case.never:
        assert fill(text, corpus, workspace) not in output, where
    for path in case.absent:
        assert not Path(fill(path, corpus, workspace)).exists(), path
    for path in case.exists:
        assert Path(fill(path, corpus, workspace)).exists(), path
    # Nothing half-written or temporary left, and earlier outputs unchanged.
    new = set(outcome["after"]) - set(outcome["before"])
    assert not [p for p in new if Path(p).name.startswith(".")], new
    allowed = {fill(p, corpus, workspace) for p in case.may_change}
    below = tuple(p for p in allowed if p.endswith("/"))  # a folder: any file in it
    changed = [p for p, digest in outcome["before"].items()
               if p not in allowed and not p.startswith(below or ("\0",))
               and outcome["after"].get(p) != digest]
    assert not changed, changed


def test_the_corpus_is_never_changed(corpus, outcomes):
    before, after = outcomes["results"]["<corpus>"]
    assert before == after
    assert not (corpus / "PAYLOAD-RAN").exists()


def test_every_command_has_cases():
    from gansep.cli.commands import TOOLS as COMMANDS

    assert set(TOOLS) == set(COMMANDS)
    assert {case.command for case in CASES} == set(COMMANDS) | {"fit"}
