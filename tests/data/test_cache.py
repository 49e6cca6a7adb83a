"""The decoded cache: excerpts equal to the direct reader's, stale and damaged copies rebuilt,
concurrent builders, the prepare command."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil

import numpy as np
import pytest
import soundfile as sf

from gansep.data import StemsFolder
from gansep.data.cache import CachedCollection, quantisation_error_db
from gansep.data.sampling import ExcerptSpec, TrainingExcerpts, read_span
from tests.conftest import tiny_generator


@pytest.fixture
def dataset(toy_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(toy_root, root)
    return root


def spans(track):
    return [-300, 0, 777, track.num_frames - 1000]


def test_excerpts_equal_the_direct_readers(dataset, tmp_path):
    direct = StemsFolder(dataset)
    cache = CachedCollection(direct, tmp_path / "cache", 22050, 2)
    for original, cached in zip(direct.tracks("train"), cache.tracks("train")):
        assert cached.name == original.name and cached.num_frames == original.num_frames
        for start in spans(original):
            a = read_span(original, ["vocals", "accompaniment"], start, 3000, 22050, 2)
            b = read_span(cached, ["vocals", "accompaniment"], start, 3000, 22050, 2)
            np.testing.assert_array_equal(a, b)  # bit-identical at the track's own rate
    # Whole training items too, through the same dataset code.
    spec = ExcerptSpec.of(tiny_generator(output_length=1024))
    a = TrainingExcerpts(direct.tracks("train"), spec, seed=3)
    b = TrainingExcerpts(cache.tracks("train"), spec, seed=3)
    for index in range(4):
        for x, y in zip(a[index], b[index]):
            assert x.dtype == y.dtype and bool((x == y).all())


def test_resampled_cache_within_float_rounding(dataset, tmp_path):
    direct = StemsFolder(dataset)
    cache = CachedCollection(direct, tmp_path / "cache", 16000, 1)
    original, cached = direct.tracks("train")[0], cache.tracks("train")[0]
    start = 5000  # inside the track: the only difference is float32 rounding
    a = read_span(original, ["vocals"], start, 4000, 16000, 1)
    b = read_span(cached, ["vocals"], start, 4000, 16000, 1)
    assert a.shape == b.shape == (1, 1, 4000)
    assert np.abs(a - b).max() < 1e-6


def test_changed_source_and_damaged_files_are_rebuilt(dataset, tmp_path, caplog):
    cache = CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2)
    cache.prepare(["train"])
    track = dataset / "train" / "toy-train-000"
    louder, rate = sf.read(track / "vocals.wav", dtype="float32")
    sf.write(track / "vocals.wav", louder * 0.5, rate, subtype="FLOAT")
    caplog.set_level(logging.WARNING)
    fresh = CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2)
    cached = {t.name: t for t in fresh.tracks("train")}["toy-train-000"]
    assert "toy-train-000 is stale (its source files changed)" in caplog.text
    np.testing.assert_array_equal(cached.read_stems(0, 100)["vocals"], louder[:100].T * 0.5)
    # A truncated cache file (size) and, with verify, a flipped byte (SHA-256).
    stem = fresh.root / "train" / "toy-train-001" / "bass.npy"
    stem.write_bytes(stem.read_bytes()[:1000])
    caplog.clear()
    CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2).tracks("train")
    assert "bass.npy has 1000 bytes" in caplog.text
    data = bytearray(stem.read_bytes())
    data[-5] ^= 0x01
    stem.write_bytes(bytes(data))
    caplog.clear()
    CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2).tracks("train")
    assert "rebuilding" not in caplog.text  # same size: only a full check finds it
    CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2,
                     verify=True).tracks("train")
    assert "bass.npy: SHA-256 differs" in caplog.text
    manifest = json.loads((fresh.root / "manifest.json").read_text())
    assert manifest["format"] == "gansep-cache/1" and "gansep_version" in manifest


def _prepare(args):
    root, cache = args
    return CachedCollection(StemsFolder(root), cache, 22050, 2).prepare(["train", "valid"])


@pytest.mark.slow
def test_concurrent_builders_agree(dataset, tmp_path):
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(_prepare, [(dataset, tmp_path / "cache")] * 3)
    assert results[0] == results[1] == results[2]
    assert not list((tmp_path / "cache").rglob(".*"))  # no temporary file left


def test_float16_error_and_footprint(dataset, tmp_path):
    audio = sf.read(dataset / "train" / "toy-train-000" / "vocals.wav", dtype="float32")[0]
    assert quantisation_error_db(audio, "float32") == float("-inf")
    assert quantisation_error_db(audio, "float16") < -60
    half = CachedCollection(StemsFolder(dataset), tmp_path / "c16", 22050, 2, "float16")
    full = CachedCollection(StemsFolder(dataset), tmp_path / "c32", 22050, 2)
    (_, small), (_, large) = half.prepare(["train"])["train"], full.prepare(["train"])["train"]
    assert 0.45 < small / large < 0.55


def test_a_builder_waiting_for_the_lock_says_so(dataset, tmp_path, caplog):
    import fcntl
    import threading
    import time

    cache = CachedCollection(StemsFolder(dataset), tmp_path / "cache", 22050, 2)
    cache.root.mkdir(parents=True)
    with open(cache.root / "build.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another builder holds it
        builder = threading.Thread(target=cache.prepare, args=(["train"],))
        with caplog.at_level("INFO", logger="gansep.data.cache"):
            builder.start()
            for _ in range(100):
                if "another process is building this cache" in caplog.text:
                    break
                time.sleep(0.05)
            assert builder.is_alive()  # still waiting, and it said why
            assert "another process is building this cache" in caplog.text
            fcntl.flock(held, fcntl.LOCK_UN)
            builder.join(60)
    assert not builder.is_alive()
