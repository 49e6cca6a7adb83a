"""Shared fixtures: tiny generated datasets and tiny models."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "offline")
# Help texts the tests build are kept apart from the user's cache (see gansep.cli.helptext),
# in a folder the process that made it removes at exit (xdist's workers inherit it).
if "GANSEP_CACHE" not in os.environ:
    os.environ["GANSEP_CACHE"] = tempfile.mkdtemp(prefix="gansep-cache-")
    atexit.register(shutil.rmtree, os.environ["GANSEP_CACHE"], True)

# Under pytest-xdist each worker takes its share of the cores: otherwise every worker's torch
# (and every process a test starts) runs a thread per core, 4 threads on 2 cores for 2 workers.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _WORKERS))

import torch  # noqa: E402

from gansep.data.toy import make_toy_dataset  # noqa: E402
from gansep.models.waveunet import WaveUNet  # noqa: E402

if _WORKERS > 1:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GANSEP = [sys.executable, "-m", "gansep.cli.main"]


# Slow tests (learning runs, processes, a browser, museval on seconds of audio, the docs
# site; whole modules under tests/cli/ and tests/robustness/) carry @pytest.mark.slow or a
# module's pytestmark themselves: make test-fast deselects them (-m "not slow").


def pytest_collection_modifyitems(config, items):
    """The test files with the most work first, each file's tests in their own order. Under
    ``--dist loadfile`` (the Makefile; it turns xdist's own order, by test count, off) the
    workers take files in this order, and the longest first leaves no long file to run alone
    at the end. A file's work: its tests, a slow one counting as 50 (they are the end-to-end
    runs; in the suite's measured durations their files are the longest)."""
    work: dict = {}
    for item in items:
        work[item.path] = work.get(item.path, 0) + (50 if item.get_closest_marker("slow") else 1)
    first = {path: index for index, path in enumerate(work)}
    items.sort(key=lambda item: (-work[item.path], first[item.path]))


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    """A small toy dataset: 3 s tracks at 22.05 kHz, 3 train, 1 valid, 2 test."""
    root = tmp_path_factory.mktemp("toy")
    return make_toy_dataset(root, seed=1, duration=3.0,
                            tracks={"train": 3, "valid": 1, "test": 2})


def tiny_generator(**overrides) -> WaveUNet:
    args = dict(sources=["vocals", "accompaniment"], channels=2, sample_rate=22050, levels=3,
                extra_filters=4, down_kernel=5, up_kernel=3, output_length=256)
    args.update(overrides)
    return WaveUNet(**args)


@pytest.fixture(scope="session")
def mallory() -> tuple[np.ndarray, np.ndarray]:
    """The MUSDB18 excerpt of ../shared/data decoded in float64: ``(references, estimates)``,
    each ``(2, 2, 1323000)`` (vocals, accompaniment); the test skips where it is absent."""
    clip = SHARED_DATA / "musdb18-excerpt" / "The Mountaineering Club - Mallory"
    if not clip.is_dir():
        pytest.skip(f"{clip} is absent (the team's shared data is beside the repo in CI only)")
    from gansep.data.audio import read_audio

    def stems(kind: str) -> np.ndarray:
        return np.stack([read_audio(clip / f"{name}_{kind}.mp3")[0].astype(np.float64)
                         for name in ("vocals", "accompaniment")])

    return stems("true"), stems("estimate")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def cli(caplog, capsys, monkeypatch):
    """``cli(args, cwd, check=True)``: the ``gansep`` command run in this process (no Python
    start-up, no re-import of torch and Lightning: seconds per call), answering like
    ``subprocess.run``: ``returncode``, ``stdout``, ``stderr`` (stderr with the log
    records). The end-to-end process runs are the robustness corpus and tests/cli/test_cli."""
    from gansep.cli.main import main

    def call(args, cwd=None, check=True) -> subprocess.CompletedProcess:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        caplog.clear()
        caplog.set_level(logging.INFO)
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:  # argparse's usage errors
            code = exit.code if isinstance(exit.code, int) else 2
        captured = capsys.readouterr()
        result = subprocess.CompletedProcess(args, code, captured.out,
                                             captured.err + caplog.text)
        if check and code != 0:
            raise AssertionError(f"gansep {' '.join(map(str, args))} failed:\n{result.stdout}"
                                 f"\n{result.stderr}")
        return result
    return call
