"""Shared fixtures: tiny generated datasets and tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "offline")

from gansep.data.toy import make_toy_dataset  # noqa: E402
from gansep.models.waveunet import WaveUNet  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GANSEP = [sys.executable, "-m", "gansep.cli.main"]


# Whole folders whose every test is slow: each runs gansep as a process (the robustness corpus,
# the end-to-end command tests) or trains across processes (DDP).
SLOW_FOLDERS = ("robustness", "cli")


def pytest_collection_modifyitems(config, items):
    """Marks ``slow`` the tests of :data:`SLOW_FOLDERS` (other slow tests carry the marker
    themselves); ``make test-fast`` deselects them."""
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = Path(item.fspath).resolve().relative_to(tests).parts
        if parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
