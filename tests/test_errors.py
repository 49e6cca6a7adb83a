"""User errors: found through the wrappers libraries put around them, one line each."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import soundfile as sf
import torch

from gansep.data.audio import DataError, wav_truncation
from gansep.errors import ConfigError, user_message
from gansep.training.robust import check_training_memory
from tests.conftest import tiny_generator


def test_user_message_finds_gansep_errors_behind_wrappers():
    try:
        try:
            raise ConfigError("WaveUNet: levels must be a positive integer, got 0")
        except ConfigError as inner:
            raise ValueError("Does not validate against any of the Union subtypes") from inner
    except ValueError as outer:
        assert user_message(outer) == "WaveUNet: levels must be a positive integer, got 0"
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "runs/x.json")
    assert user_message(missing) == "runs/x.json: No such file or directory"
    assert user_message(DataError("a.wav: empty")) == "a.wav: empty"
    assert user_message(KeyError("a bug")) is None  # bugs keep their traceback
    assert user_message(OSError(errno.EIO, "I/O error")) is None


def test_truncated_wav_is_named_with_what_is_missing(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros((22050, 2), np.float32), 22050, subtype="PCM_16")
    assert wav_truncation(path) is None
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 22050 * 2])  # half of the 88200 data bytes
    message = wav_truncation(path)
    assert message.startswith(f"{path}: truncated WAV") and "0.50 s missing" in message
    sf.write(tmp_path / "x.flac", np.zeros((100, 2), np.float32), 22050)
    assert wav_truncation(tmp_path / "x.flac") is None


def test_activation_estimate_refuses_what_cannot_fit():
    small, large = tiny_generator(levels=3), tiny_generator(levels=6)
    assert 0 < small.activation_bytes() < large.activation_bytes()
    # Doubling the input about doubles the activations.
    g = small.geometry_for(4096)
    ratio = small.activation_bytes(2 * g.input_length) / small.activation_bytes(g.input_length)
    assert 1.9 < ratio < 2.1
    with torch.device("meta"):  # the estimate needs no weights: fit checks it on meta
        huge = tiny_generator(levels=22, extra_filters=64, down_kernel=15, up_kernel=5)
    with pytest.raises(ConfigError, match=r"levels=22.*GiB of activations"):
        check_training_memory(huge, 1)


def test_the_memory_check_counts_the_batch():
    generator = tiny_generator(levels=3)
    memory = 2 * generator.activation_bytes()
    check_training_memory(generator, 2, memory=memory)  # two examples fit
    with pytest.raises(ConfigError, match=r"levels=3.*batch of 8.*data.batch_size"):
        check_training_memory(generator, 8, memory=memory)
