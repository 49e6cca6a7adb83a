"""Lightning callbacks: SDR of whole validation tracks during training."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pytorch_lightning as pl
import torch

from gansep.devices import check_device
from gansep.errors import ConfigError
from gansep.eval.evaluate import TrackError, score_tracks
from gansep.eval.metrics import Metric, Perceptual, TrackAudio, standard_metrics
from gansep.eval.results import track_rows
from gansep.separate import separate_file_audio

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
        pending: list[tuple[int, TrackAudio]] = []  # separated, not yet scored

        def score_pending():
            results = score_tracks([audio for _, audio in pending], metrics)
            for (index, _), result in zip(pending, results):
                if isinstance(result, TrackError):
                    log.warning("validation track %s not scored: %s", tracks[index].name,
                                result)
                    continue
                for k, row in enumerate(track_rows(tracks[index].name, result)):
                    scores[index, k] = torch.tensor([row.get(n, np.nan) for n in names],
                                                    dtype=scores.dtype)
            pending.clear()

        for index in range(trainer.global_rank, len(tracks), trainer.world_size):
            track = tracks[index]
            stop = track.num_frames
            if self.duration is not None:
                stop = min(stop, int(self.duration * track.sample_rate))
            mixture = track.read_mixture(0, stop)
            references = track.read_sources(sources, 0, stop)
            was_training = generator.training
            generator.eval()
            estimates = separate_file_audio(generator, mixture, track.sample_rate,
                                            self.batch_size)
            generator.train(was_training)
            pending.append((index, TrackAudio(references, estimates, track.sample_rate, sources,
                                              track.folder())))
            if index < self.audio_tracks and trainer.is_global_zero:
                self._log_media(trainer, track, mixture, references, estimates, sources)
            if len(pending) == self.batch_tracks:
                score_pending()
        if pending:
            score_pending()
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

    def _log_media(self, trainer, track, mixture, references, estimates, sources) -> None:
        """The mixture, and each source's reference and estimate, as audio and spectrograms,
        over the first ``audio_seconds`` of the scored span: the same excerpt every epoch.
        TensorBoard takes mono audio (the channels' mean); wandb keeps the channels."""
        step, rate = trainer.global_step, track.sample_rate
        stop = int(self.audio_seconds * rate)
        clips = {"mixture": mixture[..., :stop]}
        for k, source in enumerate(sources):
            clips[f"{source}/reference"] = references[k][..., :stop]
            clips[f"{source}/estimate"] = estimates[k][..., :stop]
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
