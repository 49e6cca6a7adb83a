"""Lightning callbacks: SDR of whole validation tracks during training."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pytorch_lightning as pl
import torch

from gansep.devices import check_device
from gansep.errors import ConfigError
from gansep.eval.evaluate import TrackError, run_jobs, separation_job
from gansep.eval.metrics import Metric, Perceptual, TrackAudio, standard_metrics
from gansep.eval.results import track_rows

log = logging.getLogger(__name__)


def log_name(metric: str) -> str:
    """A metric's name in logged keys: ``SI-SDR`` as ``si_sdr``."""
    return metric.lower().replace("-", "_").replace(" ", "_")


def log_spectrogram(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """A ``(bins, frames)`` image in [0, 1]: log magnitude of the channel mean, 80 dB range,
    low frequencies at the bottom."""
    signal = torch.from_numpy(audio.mean(0).astype(np.float32))
    spec = torch.stft(signal, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    db = 20 * torch.log10(spec.abs() + 1e-7)
    image = ((db - db.max() + 80) / 80).clamp(0, 1)
    return image.flip(0).numpy()


class SeparationMetrics(pl.Callback):
    """Every ``every_n_epochs`` validation epochs, separates whole validation tracks (or their
    first ``duration`` seconds) with the module's inference generator (EMA weights when kept),
    scores them by the run's metrics (BSSEval v4 and SI-SDR, the module's ``metrics``, and the
    perceptual score given its folder; see [`gansep.eval.metrics`][]) and logs, per metric and
    source, the median over tracks of each track's score as ``val/<metric>/<source>`` (the
    name lower-cased, ``-`` as ``_``: ``val/sdr/vocals``, ``val/si_sdr/vocals``). Under DDP
    every rank separates its share of the tracks and the scores are gathered before logging.
    Loggers that take media (TensorBoard, wandb) also get, for the first ``audio_tracks``
    tracks, the mixture and each source's reference and estimate over the first
    ``audio_seconds`` of the scored span (the same excerpt every epoch), as audio and as log
    spectrograms.

    Args:
        every_n_epochs: run on validation epochs divisible by this.
        duration: seconds from the start of each track (None: whole tracks).
        max_tracks: at most this many validation tracks (None: all).
        audio_tracks: tracks whose audio and spectrograms are logged.
        audio_seconds: the length of those excerpts.
        batch_size: chunks per forward pass.
        perceptual: a fitted perceptual objective's folder (written by ``gansep listen
            fit-objective``; None: not scored).
        backend: BSSEval's backend (see [`gansep.eval.metrics.BSSEval`][]); ``torch``
            scores on ``device``.
        device: where the torch backend scores (None: the module's device, so a GPU run
            scores on its GPU).
        batch_tracks: tracks separated before they are scored together (the torch backend
            batches those of one length bucket; memory: that many tracks' audio). 1 (the
            default): each alone, which is faster on a CPU (see BSSEval).
    """

    def __init__(self, every_n_epochs: int = 1, duration: float | None = 30.0,
                 max_tracks: int | None = None, audio_tracks: int = 1,
                 audio_seconds: float = 10.0, batch_size: int = 4,
                 perceptual: str | None = None,
                 backend: Literal["fast", "torch", "museval"] = "torch",
                 device: str | None = None, batch_tracks: int = 1):
        if device is not None:  # checked now, not after the first validation epoch
            check_device(device, "SeparationMetrics device")
        if batch_tracks < 1:
            raise ConfigError(f"SeparationMetrics batch_tracks: {batch_tracks}; expected at "
                              "least 1")
        self.batch_tracks = batch_tracks
        self.backend, self.device = backend, device
        self.every_n_epochs = every_n_epochs
        self.duration = duration
        self.max_tracks = max_tracks
        self.audio_tracks = audio_tracks
        self.audio_seconds = audio_seconds
        self.batch_size = batch_size
        self.perceptual = Perceptual(perceptual) if perceptual is not None else None

    def metrics(self, module: pl.LightningModule) -> list[Metric]:
        extra = [self.perceptual] if self.perceptual is not None else []
        return standard_metrics(backend=self.backend, device=self.device or str(module.device),
                                batch_tracks=self.batch_tracks,
                                extra=[*extra, *getattr(module, "metrics", [])])

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.current_epoch % self.every_n_epochs:
            return
        tracks = trainer.datamodule.collection.tracks("valid")[: self.max_tracks]
        generator = module.inference_generator
        sources = generator.sources
        metrics = self.metrics(module)
        names = [name for metric in metrics for name in metric.names]
        # (tracks, sources, names); NaN rows belong to other ranks (or were not scorable).
        scores = torch.full((len(tracks), len(sources), len(names)), float("nan"),
                            device=module.device)
        mine = range(trainer.global_rank, len(tracks), trainer.world_size)
        jobs = [separation_job(generator, tracks[index], self.duration, self.batch_size)
                for index in mine]
        for index, (job, loaded, result) in zip(mine, run_jobs(jobs, metrics,
                                                               self.batch_tracks)):
            if loaded is not None and index < self.audio_tracks and trainer.is_global_zero:
                self._log_media(trainer, tracks[index], loaded.audio)
            if isinstance(result, TrackError):
                log.warning("validation track %s not scored: %s", job.name, result)
                continue
            for k, row in enumerate(track_rows(job.name, result)):
                scores[index, k] = torch.tensor([row.get(n, np.nan) for n in names],
                                                dtype=scores.dtype)
        if trainer.world_size > 1:
            gathered = trainer.strategy.all_gather(scores)  # (world, tracks, sources, names)
            # Each entry was filled by one rank; fmax keeps it and ignores the others' NaN.
            values = np.fmax.reduce(gathered.cpu().numpy(), axis=0)
        else:
            values = scores.cpu().numpy()
        for k, source in enumerate(sources):
            for j, name in enumerate(names):
                column = values[:, k, j]
                column = column[~np.isnan(column)]
                if len(column):
                    module.log(f"val/{log_name(name)}/{source}", float(np.median(column)),
                               sync_dist=False, rank_zero_only=False)

    def _log_media(self, trainer, track, audio: TrackAudio) -> None:
        """The mixture, and each source's reference and estimate, as audio and spectrograms,
        over the first ``audio_seconds`` of the scored span: the same excerpt every epoch.
        TensorBoard takes mono audio (the channels' mean); wandb keeps the channels."""
        step, rate = trainer.global_step, audio.rate
        stop = int(self.audio_seconds * rate)
        clips = {"mixture": audio.mixture[..., :stop]}
        for k, source in enumerate(audio.sources):
            clips[f"{source}/reference"] = audio.references[k][..., :stop]
            clips[f"{source}/estimate"] = audio.estimates[k][..., :stop]
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_audio"):  # TensorBoard
                for name, audio in clips.items():
                    # A tag belongs to one TensorBoard plugin: audio and images apart.
                    mono = torch.from_numpy(np.clip(audio.mean(0), -1, 1).astype(np.float32))
                    experiment.add_audio(f"separation/{track.name}/{name}", mono[None], step,
                                         rate)
                    experiment.add_image(f"spectrogram/{track.name}/{name}",
                                         log_spectrogram(audio)[None], step)
            elif hasattr(logger, "log_audio"):  # wandb
                logger.log_audio(key=f"separation/{track.name}",
                                 audios=[audio.T for audio in clips.values()],
                                 sample_rate=[rate] * len(clips), caption=list(clips), step=step)
                logger.log_image(key=f"spectrogram/{track.name}",
                                 images=[log_spectrogram(audio) for audio in clips.values()],
                                 caption=list(clips), step=step)
