"""Every command against the broken-input corpus, as a real subprocess (see cases.py for what
each case asserts). The cases run two at a time, once per session, before their tests read
the outcomes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.conftest import GANSEP
from tests.robustness import corpus as corpus_module
from tests.robustness.cases import CASES, TOOLS, Case

ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, str]:
    """``{path: SHA-1 of its bytes}`` of every file below ``folder``."""
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fill(text: str, corpus: Path, workspace: Path) -> str:
    return text.replace("{c}", str(corpus)).replace("{w}", str(workspace))


def execute(case: Case, corpus: Path, workspace: Path) -> dict:
    workspace.mkdir(parents=True)
    for source, target in case.copy:
        shutil.copytree(corpus / source, workspace / target)
    before = snapshot(workspace)
    args = [fill(a, corpus, workspace) for a in case.args]
    env = {k: v for k, v in os.environ.items() if k != "GANSEP_DEBUG"}
    result = subprocess.run(GANSEP + args, cwd=workspace, capture_output=True, text=True,
                            timeout=300, env={**env, "PYTHONPATH": str(ROOT)})
    return {"code": result.returncode, "output": result.stdout + result.stderr,
            "stderr": result.stderr, "before": before, "after": snapshot(workspace)}


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
    changed = [p for p, digest in outcome["before"].items()
               if p not in allowed and outcome["after"].get(p) != digest]
    assert not changed, changed


def test_the_corpus_is_never_changed(corpus, outcomes):
    before, after = outcomes["results"]["<corpus>"]
    assert before == after
    assert not (corpus / "PAYLOAD-RAN").exists()


def test_every_command_has_cases():
    from gansep.cli.commands import TOOLS as COMMANDS

    assert set(TOOLS) == set(COMMANDS)
    assert {case.command for case in CASES} == set(COMMANDS) | {"fit"}
