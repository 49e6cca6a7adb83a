"""Shared fixtures: tiny generated datasets and tiny models."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "offline")
# Help texts the tests build are kept apart from the user's cache (see gansep.cli.helptext).
os.environ.setdefault("GANSEP_CACHE", __import__("tempfile").mkdtemp(prefix="gansep-cache-"))

from gansep.data.toy import make_toy_dataset  # noqa: E402
from gansep.models.waveunet import WaveUNet  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GANSEP = [sys.executable, "-m", "gansep.cli.main"]


# Whole folders whose every test is slow: each runs gansep as a process (the robustness corpus,
# the end-to-end command tests) or trains across processes (DDP).
SLOW_FOLDERS = ("robustness", "cli")
# Slow tests elsewhere, by kind (node ids, a parametrized test by its name): one list, so that
# the fast tier's contents are read in one place.
SLOW_TESTS = (
    # learning: optimisers run for tens to hundreds of steps, or a perceptual objective is fitted
    "models/test_discriminators.py::test_discriminator_learns_real_from_mixture",
    "models/test_discriminators.py::test_wasserstein_critic_learns_real_from_mixture",
    "listen/test_fit.py::test_fit_end_to_end_recovers_the_raters_weighting",
    "listen/test_fit.py::test_the_fitted_objective_trains_a_demo_model",
    "listen/test_fit.py::test_perceptual_score_prefers_the_better_estimate_and_is_a_window_median",
    "listen/test_fit.py::test_score_and_compare_report_and_rank_by_the_perceptual_score",
    "listen/test_fit.py::test_the_validation_callback_logs_the_perceptual_score",
    "training/test_gan.py::test_compiled_discriminators_train",
    "listen/test_fit.py::test_too_little_data_is_refused",  # simulated raters rate a test first
    # processes: killed, signalled, racing, or a browser
    "training/test_robust.py::test_sigterm_saves_and_exits_cleanly",
    "training/test_robust.py::test_sigkill_then_resume_equals_uninterrupted",
    "listen/test_server.py::test_sigkill_while_raters_submit_loses_no_acknowledged_rating",
    "listen/test_browser.py::",
    "data/test_cache.py::test_concurrent_builders_agree",
    "lyrics/test_align.py::test_align_a_real_song_end_to_end",
    "lyrics/test_multitask.py::test_evaluate_export_and_transcribe_a_multitask_model",
    # museval itself as the reference, on several seconds of audio each
    "eval/test_fast_bsseval.py::test_random_signals",
    "eval/test_fast_bsseval.py::test_silent_frames_are_nan_like_museval",
    "eval/test_fast_bsseval.py::test_toy_tracks",
    "eval/test_fast_bsseval.py::test_real_music_clip",
    "eval/test_fast_bsseval.py::test_museval_differs_from_itself_where_the_gram_matrix_is_singular",
    "eval/test_torch_bsseval.py::test_real_music_clip",
    # the documentation site, built by mkdocs in a process of its own
    "test_docs.py::test_the_site_builds_strictly_and_fetches_nothing",
    "test_docs.py::test_the_tested_snippets_of_a_page_run",
    "listen/test_metrics.py::test_metrics_of_every_stimulus_match_direct_scoring",
    # ffmpeg and stempeg processes; a generator of several GB; a hundred seconds of synthesis
    "data/test_musdb.py::test_musdb_stem_mp4_through_the_cache",
    "test_errors.py::test_activation_estimate_refuses_what_cannot_fit",
    "data/test_ambiguous.py::test_assignments_follow_the_seed_and_the_probability",
    # the LightningCLI built once per bad configuration (the robustness corpus has them too)
    "training/test_robust.py::test_bad_configuration_fails_before_data",
)


def pytest_collection_modifyitems(config, items):
    """Marks ``slow`` the tests of :data:`SLOW_FOLDERS` and :data:`SLOW_TESTS`; ``make
    test-fast`` deselects them."""
    tests = Path(__file__).resolve().parent
    for item in items:
        path = Path(item.fspath).resolve().relative_to(tests)
        node = f"{path.as_posix()}::{item.name.split('[')[0]}"
        if path.parts[0] in SLOW_FOLDERS or any(node.startswith(slow) for slow in SLOW_TESTS):
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
