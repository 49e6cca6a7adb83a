import numpy as np
import pytest
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger

from gansep.data import SeparationData, StemsFolder
from gansep.training import Separator
from gansep.eval.si_sdr import si_sdr
from gansep.training.callbacks import SeparationMetrics, log_spectrogram
from tests.conftest import tiny_generator


def test_si_sdr_hand_value():
    reference = np.array([[1.0, -1.0, 1.0, -1.0]])
    noise = np.array([[1.0, 1.0, -1.0, -1.0]])
    assert si_sdr(reference, 3 * (reference + 0.5 * noise)) == pytest.approx(
        10 * np.log10(4), abs=1e-6)
    # Offsets are removed; a silent reference has no SI-SDR.
    assert si_sdr(reference + 2.0, reference - 1.0) > 70
    assert np.isnan(si_sdr(np.zeros((2, 8)), np.ones((2, 8))))


@pytest.mark.parametrize("scale", [1e-8, 1e-7, 1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4])
def test_si_sdr_is_scale_invariant_at_any_level(scale):
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((2, 4000))
    estimate = 0.7 * reference + 0.4 * rng.standard_normal((2, 4000))
    value = si_sdr(reference, estimate)
    assert si_sdr(reference, scale * estimate) == pytest.approx(value, abs=1e-6)
    assert si_sdr(scale * reference, scale * estimate) == pytest.approx(value, abs=1e-6)
    assert si_sdr(scale * reference, estimate) == pytest.approx(value, abs=1e-6)
    # A perfect estimate at any level: the same finite ceiling, 10 log10(1 + 1e8).
    assert si_sdr(scale * reference, scale * reference) == pytest.approx(80.0, abs=1e-6)


def test_spectrogram_image_range():
    image = log_spectrogram(np.random.default_rng(0).standard_normal((2, 8000)))
    assert image.shape[0] == 513 and image.min() >= 0 and image.max() == 1


def test_callback_logs_sdr_and_media(toy_root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gansep.training import RunLogger

    module = Separator(tiny_generator())
    data = SeparationData(StemsFolder(toy_root), batch_size=2, excerpts_per_epoch=4)
    logger = RunLogger(tmp_path, name="demo", version="l1")
    trainer = pl.Trainer(max_epochs=2, logger=logger, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0, log_every_n_steps=1,
                         callbacks=[SeparationMetrics(duration=2.0, audio_tracks=1,
                                                      audio_seconds=1.0)])
    trainer.fit(module, data)
    metrics = trainer.callback_metrics
    for source in ("vocals", "accompaniment"):
        assert np.isfinite(float(metrics[f"val/sdr/{source}"]))
        assert np.isfinite(float(metrics[f"val/si_sdr/{source}"]))
    run = tmp_path / "demo" / "l1"
    events = EventAccumulator(str(run), size_guidance={"audio": 0, "images": 0}).Reload()
    track = StemsFolder(toy_root).tracks("valid")[0].name
    names = ("mixture", "vocals/reference", "vocals/estimate", "accompaniment/reference",
             "accompaniment/estimate")
    audio = {f"separation/{track}/{name}" for name in names}
    images = {f"spectrogram/{track}/{name}" for name in names}
    # Each tag of one kind only: TensorBoard shows a tag in one plugin.
    assert set(events.Tags()["audio"]) == audio and set(events.Tags()["images"]) == images
    # The same excerpt each epoch: one clip per validation epoch, of audio_seconds.
    clips = events.Audio(f"separation/{track}/mixture")
    assert len(clips) == 2 and clips[0].length_frames == clips[1].length_frames == 22050
    assert {"lr/generator", "val/sdr/vocals", "train/loss"} <= set(events.Tags()["scalars"])
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "lr/generator", "val/sdr/vocals", "train/loss"} <= set(header)


def test_callback_scores_bsseval_on_the_modules_device_by_default():
    from gansep.eval.metrics import BSSEval

    module = Separator(tiny_generator())
    bsseval = SeparationMetrics().metrics(module)[0]
    assert isinstance(bsseval, BSSEval)
    assert (bsseval.backend, bsseval.device) == ("torch", str(module.device))
    chosen = SeparationMetrics(backend="museval", device="cpu").metrics(module)[0]
    assert (chosen.backend, chosen.device) == ("museval", "cpu")


@pytest.mark.parametrize("device", ["nonsense", "cuda:99"])
def test_a_device_that_is_not_here_is_one_config_error_at_construction(device):
    from gansep.errors import ConfigError

    if device.startswith("cuda") and __import__("torch").cuda.device_count() > 99:
        pytest.skip("this machine has a hundred CUDA devices")
    with pytest.raises(ConfigError, match=r"^SeparationMetrics device: .*" + device[:4]):
        SeparationMetrics(device=device)


def test_a_damaged_metrics_file_is_one_line_and_kept(tmp_path):
    from gansep.data.audio import DataError
    from gansep.training.loggers import MetricsCSV

    (tmp_path / "metrics.csv").write_text("step,train/loss\n0,0.5\n1,abc\n")
    with pytest.raises(DataError, match="metrics.csv: row 3: expected a step and numbers"):
        MetricsCSV(tmp_path)
    assert (tmp_path / "metrics.csv").read_text().endswith("1,abc\n")
