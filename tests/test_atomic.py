"""Atomic writes leave nothing behind: a SIGTERM under the gansep command removes the temporary
file on the way out, and the next write of a path removes what a SIGKILLed process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from gansep.atomic import atomic_target

ROOT = Path(__file__).resolve().parents[1]

# Writes part of TARGET through atomic_target under `gansep slow TARGET` (a tool added for the
# test), says "writing" and waits to be killed.
WRITER = """
import faulthandler, signal, sys, time
faulthandler.register(signal.SIGUSR1)  # its stack on stderr, should it ever hang
from pathlib import Path
import gansep.cli.main as cli
from gansep.atomic import atomic_target

def slow(argv):
    with atomic_target(argv[0]) as tmp:
        Path(tmp).write_text("half")
        print("writing", flush=True)
        time.sleep(60)

cli.TOOLS["slow"] = ("__main__:slow", "a test tool")
sys.exit(cli.main(["slow", sys.argv[1]]))
"""


def start(target: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "writing"
    return process


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")]


def ended(process: subprocess.Popen, timeout: float = 30) -> int:
    """The process's exit status; if it does not end within ``timeout`` (seen once in CI, not
    reproduced), fails with what it was doing: its state and signal masks from /proc and its
    Python stack (faulthandler, on SIGUSR1)."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            status = [line for line in Path(f"/proc/{process.pid}/status").read_text()
                      .splitlines() if line.startswith(("State", "Threads", "Sig", "Shd"))]
        except OSError as error:
            status = [str(error)]
        process.send_signal(signal.SIGUSR1)
        try:
            _, stack = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stack = process.communicate()
        raise AssertionError(f"the writer did not end within {timeout} s of the signal: "
                             f"{'; '.join(status)}\n{stack}") from None


def test_sigterm_removes_the_temporary_file(tmp_path):
    process = start(tmp_path / "out.json")
    assert len(temporaries(tmp_path)) == 1
    process.send_signal(signal.SIGTERM)
    assert ended(process) == 128 + signal.SIGTERM
    assert temporaries(tmp_path) == [] and not (tmp_path / "out.json").exists()


def test_the_next_write_removes_what_sigkill_left(tmp_path):
    process = start(tmp_path / "out.json")
    process.kill()
    process.wait(30)
    left = temporaries(tmp_path)
    assert len(left) == 1 and str(process.pid) in left[0].name
    # Another writer's live temporary file is kept; the dead one's is removed.
    live = start(tmp_path / "out.json")
    try:
        with atomic_target(tmp_path / "out.json") as tmp:
            Path(tmp).write_text("whole")
        assert (tmp_path / "out.json").read_text() == "whole"
        remaining = temporaries(tmp_path)
        assert len(remaining) == 1 and str(live.pid) in remaining[0].name
    finally:
        live.kill()
        live.wait(30)


def test_replaced_folder_replaces_its_own_output_whole_and_refuses_any_other(tmp_path):
    import pytest

    from gansep.atomic import MANIFEST, replaced_folder
    from gansep.errors import ConfigError

    out = tmp_path / "out"
    with replaced_folder(out, "gansep x") as folder:
        (folder / "a.md").write_text("first")
        (folder / "sub").mkdir()
        (folder / "sub" / "b.png").write_text("first")
    with replaced_folder(out, "gansep x") as folder:  # its own earlier output: replaced whole
        (folder / "a.md").write_text("second")
    assert sorted(p.name for p in out.rglob("*")) == ["a.md", MANIFEST]
    assert (out / "a.md").read_text() == "second"
    with pytest.raises(RuntimeError):  # a failed run leaves the earlier output as it was
        with replaced_folder(out, "gansep x") as folder:
            (folder / "a.md").write_text("third")
            raise RuntimeError("failed")
    assert (out / "a.md").read_text() == "second"
    with pytest.raises(ConfigError, match="holds the output of gansep x, not of gansep y"):
        with replaced_folder(out, "gansep y"):
            pass
    (out / "notes.txt").write_text("a person's file")
    with pytest.raises(ConfigError, match="did not write \\(notes.txt\\)"):
        with replaced_folder(out, "gansep x"):
            pass
    assert (out / "notes.txt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left over

