"""A small listening test built once per session: 4 toy test tracks of 4 s, two conditions
made from the references (a faint one and a noisy one), 3 rated trials of 1.5 s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gansep.data.audio import read_audio, write_audio
from gansep.data.toy import make_toy_dataset


def make_condition(references: Path, out: Path, noise: float, seed: int,
                   source: str = "vocals") -> Path:
    """Estimates = reference + white noise of ``noise`` times the reference's RMS."""
    rng = np.random.default_rng(seed)
    for track in sorted(p for p in references.iterdir() if p.is_dir()):
        audio, rate = read_audio(track / f"{source}.wav")
        rms = np.sqrt(np.mean(audio ** 2))
        estimate = audio + noise * rms * rng.standard_normal(audio.shape).astype(np.float32)
        write_audio(out / track.name / f"{source}.wav", estimate, rate, subtype="FLOAT")
    return out


@pytest.fixture(scope="session")
def listen_data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("listen")
    toy = make_toy_dataset(root / "toy", seed=5, duration=4.0, tracks={"test": 4})
    references = toy / "test"
    return {"root": root, "references": references,
            "conditions": {"faint": make_condition(references, root / "faint", 0.05, 1),
                           "noisy": make_condition(references, root / "noisy", 0.6, 2)}}


@pytest.fixture(scope="session")
def built_test(listen_data, tmp_path_factory) -> Path:
    from gansep.listen.build import build_test

    out = tmp_path_factory.mktemp("built") / "test"
    build_test(listen_data["references"], listen_data["conditions"], "vocals", trials=3,
               seconds=1.5, out=out, seed=0, name="unit test")
    return out
