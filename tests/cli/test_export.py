"""gansep export / load_separator / gansep separate."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch

import gansep
from gansep.data import SeparationData, StemsFolder
from gansep.export import CheckpointError, export_separator, generator_from_checkpoint
from gansep.losses import GAN, L1, Objective
from gansep.models.discriminators import MultiPeriod
from gansep.training import GANSeparator
from tests.conftest import SHARED_DATA, tiny_generator


pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

@pytest.fixture(scope="module")
def gan_checkpoint(toy_root, tmp_path_factory):
    pl.seed_everything(0)
    objective = Objective([L1()], GAN(MultiPeriod(periods=[2, 3], channels=[4, 8]), weight=0.1))
    module = GANSeparator(tiny_generator(), objective, ema_decay=0.5)
    data = SeparationData(StemsFolder(toy_root), batch_size=2, excerpts_per_epoch=6)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(module, data)
    path = tmp_path_factory.mktemp("gan") / "gan.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def exported(gan_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "separator"
    export_separator(gan_checkpoint, out, onnx=True)
    return out


def test_export_reproduces_the_checkpoint(gan_checkpoint, exported):
    config = json.loads((exported / "separator.json").read_text())
    assert config["weights"] == "ema" and config["step"] == 3
    assert config["sources"] == ["vocals", "accompaniment"] and config["channels"] == 2
    assert config["objective"] == "l1+mpd(lsgan)"
    ema, _ = generator_from_checkpoint(gan_checkpoint)
    raw, _ = generator_from_checkpoint(gan_checkpoint, ema=False)
    x = torch.randn(2, 2, ema.geometry.input_length)
    with torch.no_grad():
        expected = ema(x)
        assert (expected - raw(x)).abs().max() > 1e-4  # EMA and raw weights differ
        loaded = gansep.load_separator(exported).generator
        assert (loaded(x) - expected).abs().max() < 1e-5
        scripted = torch.jit.load(str(exported / "separator.ts"))
        assert (scripted(x) - expected).abs().max() < 1e-5
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        import onnxruntime

        session = onnxruntime.InferenceSession(str(exported / "separator.onnx"))
        out = session.run(None, {"mixture": x.numpy()})[0]
        assert np.abs(out - expected.numpy()).max() < 1e-5


def test_onnx_is_skipped_cleanly_without_the_package(gan_checkpoint, tmp_path, caplog):
    if importlib.util.find_spec("onnx"):
        pytest.skip("onnx is installed here; the skip path cannot be exercised")
    config = export_separator(gan_checkpoint, tmp_path / "x", onnx=True)
    assert "onnx" not in config["files"] and not (tmp_path / "x" / "separator.onnx").exists()
    assert "the onnx package is not installed" in caplog.text


def test_raw_weights_export(gan_checkpoint, tmp_path):
    config = export_separator(gan_checkpoint, tmp_path / "raw", ema=False)
    raw, _ = generator_from_checkpoint(gan_checkpoint, ema=False)
    x = torch.randn(1, 2, raw.geometry.input_length)
    with torch.no_grad():
        diff = gansep.load_separator(tmp_path / "raw").generator(x) - raw(x)
    assert config["weights"] == "raw" and diff.abs().max() < 1e-5


def test_tampered_and_truncated_files(exported, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(exported, bad)
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        gansep.load_separator(bad)
    (bad / "model.safetensors").write_bytes(bytes(data[:100]))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        gansep.load_separator(bad)
    (bad / "separator.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="damaged separator description"):
        gansep.load_separator(bad)
    with pytest.raises(CheckpointError, match="not a gansep separator folder"):
        gansep.load_separator(tmp_path)


def test_python_api_any_rate_and_channels(exported):
    separator = gansep.load_separator(exported)
    stereo = np.random.default_rng(0).standard_normal((2, 30000)).astype(np.float32) * 0.1
    out = separator.separate(stereo, 22050)
    assert list(out) == ["vocals", "accompaniment"]
    assert all(v.shape == (2, 30000) for v in out.values())
    mono = torch.randn(44100) * 0.1
    out = separator.separate(mono, 44100)
    assert all(isinstance(v, torch.Tensor) and v.shape == (44100,) for v in out.values())
    with pytest.raises(ValueError, match=r"\(channels, time\)"):
        separator.separate(np.zeros((1, 2, 3)), 22050)
    # soundfile's (time, channels): taken as such, answered in the same layout, equal to
    # the (channels, time) separation.
    out_t = separator.separate(stereo.T, 22050)
    assert all(v.shape == (30000, 2) for v in out_t.values())
    for source in out_t:
        np.testing.assert_allclose(out_t[source].T, separator.separate(stereo, 22050)[source],
                                   atol=1e-6)
    with pytest.raises(ValueError, match="ambiguous.*waveform.T"):
        separator.separate(np.zeros((4, 5), dtype=np.float32), 22050)


def test_separate_a_dataset_into_track_folders_as_mp3(cli, exported, toy_root, tmp_path):
    """A stems folder (every split): each track's mixture into OUT/<track>/, never a stem;
    encoded by ffmpeg at the bitrate asked for; the last line says where."""
    out = cli(["separate", "--model", str(exported), str(toy_root), "--out",
               str(tmp_path / "out"), "--format", "mp3", "--bitrate", "128k"], tmp_path)
    tracks = sorted(p.name for split in ("train", "valid", "test")
                    for p in (toy_root / split).iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == tracks
    for track in tracks:
        assert sorted(p.name for p in (tmp_path / "out" / track).iterdir()) == [
            "accompaniment.mp3", "vocals.mp3"]
    info = sf.info(tmp_path / "out" / tracks[0] / "vocals.mp3")
    mixture = sf.info(next(toy_root.glob(f"*/{tracks[0]}/mixture.wav")))
    assert info.samplerate == mixture.samplerate and info.channels == mixture.channels
    assert abs(info.duration - mixture.duration) < 0.1  # mp3 pads a frame at most
    assert out.stdout.strip().splitlines()[-1] == (
        f"separated {len(tracks)} of {len(tracks)} input(s) into {tmp_path / 'out'}/<track>/"
        "<source>.mp3")
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary WAV left
    # On an existing output: refused as before, or replaced with --overwrite.
    again = cli(["separate", "--model", str(exported), str(toy_root / "test"), "--out",
                 str(tmp_path / "out"), "--format", "mp3"], tmp_path, check=False)
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_separate_command(cli, exported, toy_root, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    mixture, rate = sf.read(toy_root / "test" / "toy-test-000" / "mixture.wav")
    sf.write(inputs / "song.wav", mixture, rate)
    sf.write(inputs / "mono44k.flac", np.random.default_rng(0).standard_normal(44100) * 0.1,
             44100)
    (inputs / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    sf.write(inputs / "empty.wav", np.zeros((0, 2)), 22050)
    (tmp_path / "no-audio").mkdir()
    (tmp_path / "no-audio" / "notes.txt").write_text("hello")
    args = ["separate", "--model", str(exported), str(inputs), str(tmp_path / "no-audio")]
    clip = SHARED_DATA / "musdb18-excerpt" / "The Mountaineering Club - Mallory" / "mix.mp3"
    if clip.is_file():
        args.append(str(clip))
    out = cli([*args, "--out", str(tmp_path / "out"), "--subtype", "PCM_24"], tmp_path,
              check=False)
    assert out.returncode == 1
    assert "broken.wav: cannot read audio" in out.stderr
    assert "empty.wav: empty audio" in out.stderr
    assert "no-audio: folder holds no audio files" in out.stderr
    song, song_rate = sf.read(tmp_path / "out" / "song" / "vocals.wav")
    assert song_rate == rate and song.shape == mixture.shape
    assert sf.info(tmp_path / "out" / "song" / "vocals.wav").subtype == "PCM_24"
    mono, mono_rate = sf.read(tmp_path / "out" / "mono44k" / "accompaniment.wav")
    assert mono_rate == 44100 and mono.shape == (44100,)
    if clip.is_file():
        assert sf.info(tmp_path / "out" / "mix" / "vocals.wav").frames == 1323000
    # An output path that is a file.
    (tmp_path / "taken").write_text("x")
    out = cli(["separate", "--model", str(exported), str(inputs / "song.wav"), "--out",
               str(tmp_path / "taken")], tmp_path, check=False)
    assert out.returncode == 2 and "is a file, not a folder" in out.stderr


def test_separate_streams_long_files_seamlessly(cli, exported, toy_root, tmp_path):
    """Half-second segments (with their margins) give what one pass over the file gives."""
    mixture, rate = sf.read(toy_root / "test" / "toy-test-001" / "mixture.wav",
                            dtype="float32")
    sf.write(tmp_path / "song.wav", mixture, rate, subtype="FLOAT")
    cli(["separate", "--model", str(exported), str(tmp_path / "song.wav"), "--out",
         str(tmp_path / "out"), "--segment-seconds", "0.5", "--subtype", "FLOAT"], tmp_path)
    expected = gansep.load_separator(exported).separate(mixture.T, rate)
    for source, audio in expected.items():
        written, _ = sf.read(tmp_path / "out" / "song" / f"{source}.wav", dtype="float32")
        np.testing.assert_allclose(written.T, audio, atol=1e-5)
