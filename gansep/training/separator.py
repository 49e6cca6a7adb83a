"""The LightningModule that trains a generator with a reconstruction objective."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable

from gansep.version import __version__
from gansep.checkpoints import generator_from_checkpoint, read_export
from gansep.data.sampling import LyricsBatch
from gansep.errors import ConfigError
from gansep.eval.bsseval import bss_eval, median_over_frames
from gansep.eval.results import markdown_table, median_over_tracks
from gansep.eval.transcribe import error_rates, segment_transcripts
from gansep.losses import Objective
from gansep.losses.lyrics import ctc_segments
from gansep.models import generator_class_path
from gansep.models.waveunet import WaveUNet
from gansep.separate import separate_file_audio
from gansep.training.robust import FiniteGuard, configured

log = logging.getLogger(__name__)


def _plain(value) -> bool:
    """Whether ``value`` is plain data (what a configuration holds)."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def initialise_from(generator: WaveUNet, source: str | Path, ema: bool = True) -> None:
    """Loads into ``generator`` the weights of a gansep checkpoint or export folder; a
    ConfigError names every architecture setting that differs."""
    source = Path(source)
    if source.is_dir():
        trained, what = read_export(source)[0], "export"
    else:
        trained, info = generator_from_checkpoint(source, ema=ema)
        what = f"{info['weights']} weights at step {info['global_step']}"
    differences = [f"{key} {trained.config.get(key)!r} there, {value!r} here"
                   for key, value in generator.config.items() if trained.config.get(key) != value]
    if differences:
        raise ConfigError(f"init_from {source}: its generator differs from this run's: "
                          + "; ".join(differences))
    generator.load_state_dict(trained.state_dict())
    log.info("generator initialised from %s (%s)", source, what)


def unpack(batch) -> tuple[torch.Tensor, torch.Tensor, list, LyricsBatch | None]:
    """``(mixture, sources, [unpaired solo sources], lyrics or None)`` of a training batch."""
    mixture, sources, *rest = batch
    lyrics = rest.pop() if rest and isinstance(rest[-1], LyricsBatch) else None
    return mixture, sources, rest, lyrics


def adam(params) -> torch.optim.Optimizer:
    """The default optimiser: Adam with the Wave-U-Net paper's settings."""
    return torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999))


class Separator(pl.LightningModule):
    """Trains ``generator`` to minimise ``objective`` between its estimates and the reference
    sources; tests by separating whole test tracks and scoring them with BSSEval v4.

    Args:
        generator: the separation network.
        objective: the loss (default: L1 alone).
        optimizer: builds the optimiser from the generator's parameters (None: Adam with the
            Wave-U-Net paper's learning rate 1e-4). The default is None rather than a function
            because jsonargparse turns a function default into its dotted name, a string.
        lr_scheduler: optional scheduler, stepped every epoch.
        eval_batch_size: chunks per forward pass when separating whole tracks.
        max_bad_steps: steps with a non-finite loss are skipped; more than this many in a row
            stop the run (DivergenceError naming the term and step).
        init_from: start the generator from this gansep checkpoint or export folder (a
            reconstruction-trained one, say), whose architecture must match; optimisers and
            step start fresh (unlike ``--ckpt_path``, which resumes a run).
        init_from_ema: take the source's EMA weights when it has them.
    """

    def __init__(self, generator: WaveUNet, objective: Objective | None = None,
                 optimizer: OptimizerCallable | None = None,
                 lr_scheduler: LRSchedulerCallable | None = None, eval_batch_size: int = 4,
                 max_bad_steps: int = 10, init_from: str | None = None,
                 init_from_ema: bool = True):
        super().__init__()
        # Under LightningCLI this records the configuration (class paths and arguments), so that
        # `--ckpt_path` and load_from_checkpoint rebuild the module.
        self.save_hyperparameters()
        # Built from Python rather than by the CLI, the arguments are objects (modules,
        # callables): keep them out, so that checkpoints load with torch.load(weights_only=True).
        for store in (self._hparams, self._hparams_initial):
            for key in [k for k, v in store.items() if not _plain(v)]:
                del store[key]
        if init_from is not None:
            initialise_from(generator, init_from, init_from_ema)
        self.generator = generator
        self.objective = (objective if objective is not None else Objective()).bind(generator)
        if self.objective.adversarial is not None and not self.adversarial_training:
            raise ConfigError(f"{type(self).__name__} trains reconstruction objectives only; the "
                             f"objective {self.objective.name} has an adversarial term: use "
                             "class_path gansep.training.GANSeparator")
        self.optimizer = optimizer if optimizer is not None else adam
        self.lr_scheduler = lr_scheduler
        self.eval_batch_size = eval_batch_size
        self.guard = FiniteGuard(max_bad_steps)
        self._test_rows: list[dict] = []
        self._transcripts: list[tuple[str, str]] = []

    adversarial_training = False

    @property
    def inference_generator(self) -> WaveUNet:
        """The network used for validation, test and export."""
        return self.generator

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Plain data that rebuilds the generator without unpickling any object.
        checkpoint["gansep"] = {"generator": self.generator.config,
                                "generator_class": generator_class_path(self.generator),
                                "objective": self.objective.name,
                                "module": type(self).__name__, "version": __version__,
                                "guard": self.guard.state_dict()}

    def finite(self, values: dict, where: str) -> bool:
        """The guard's verdict on ``values``, agreed by all ranks."""
        agree = None
        if self._trainer is not None and self.trainer.world_size > 1:
            agree = lambda ok: self.trainer.strategy.reduce_boolean_decision(ok, all=True)  # noqa: E731
        return self.guard.check(values, where, self.global_step, agree)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "guard" in checkpoint.get("gansep", {}):
            self.guard.load_state_dict(checkpoint["gansep"]["guard"])

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.generator(mixture)

    def log_terms(self, stage: str, total: torch.Tensor, terms: dict, batch_size: int) -> None:
        """Logs the objective's total as ``<stage>/loss`` and every term as ``<stage>/<name>``
        (per step in training, per epoch otherwise)."""
        on_step = stage == "train"
        self.log(f"{stage}/loss", total, prog_bar=True, on_step=on_step, on_epoch=not on_step,
                 sync_dist=not on_step, batch_size=batch_size)
        for name, value in terms.items():
            self.log(f"{stage}/{name}", value, on_step=on_step, on_epoch=not on_step,
                     sync_dist=not on_step, batch_size=batch_size)

    def separate(self, generator, mixture: torch.Tensor,
                 lyrics) -> tuple[torch.Tensor, tuple | None]:
        """``generator``'s estimates of ``mixture``, and with a lyrics term and lyrics in the
        batch, the head's ``(log_probs, CTC segments)`` from the same pass."""
        if lyrics is None or self.objective.lyrics is None:
            return generator(mixture), None
        estimates, log_probs = generator.separate_and_transcribe(mixture)
        segments = ctc_segments(generator.frame_times(mixture.shape[-1]),
                                estimates.shape[-1] / generator.sample_rate,
                                [item.lines for item in lyrics])
        return estimates, (log_probs, segments)

    def objective_terms(self, estimates, sources, lyrics, transcription):
        stems = None if lyrics is None else lyrics.stems.to(estimates.device)
        return self.objective(estimates, sources, stems, transcription)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor | None:
        mixture, sources, _, lyrics = unpack(batch)  # (unpaired solo sources: discriminators)
        estimates, transcription = self.separate(self.generator, mixture, lyrics)
        total, terms = self.objective_terms(estimates, sources, lyrics, transcription)
        if not self.finite({**terms, "loss": total}, "generator"):
            self.log("train/skipped_steps", float(self.guard.skipped))
            return None  # Lightning skips backward and the optimiser step
        self.guard.passed()
        self.log_terms("train", total, terms, len(mixture))
        return total

    def validation_step(self, batch, batch_idx: int) -> None:
        mixture, sources, _, lyrics = unpack(batch)
        estimates, transcription = self.separate(self.inference_generator, mixture, lyrics)
        total, terms = self.objective_terms(estimates, sources, lyrics, transcription)
        self.log_terms("val", total, terms, len(mixture))
        if transcription is not None:
            self._transcripts += segment_transcripts(transcription[0], transcription[1],
                                                     self.generator.vocabulary)

    def on_validation_epoch_start(self) -> None:
        self._transcripts = []

    def on_validation_epoch_end(self) -> None:
        """Character and word error rates of the lyrics head on the validation lines."""
        if not self._transcripts:
            return
        rates = error_rates([r for r, _ in self._transcripts],
                            [h for _, h in self._transcripts])
        for name, value in rates.items():
            self.log(f"val/{name.lower()}", value, sync_dist=True)

    def configure_optimizers(self):
        optimizer = configured(self.optimizer, self.generator.parameters(), "optimizer")
        if self.lr_scheduler is None:
            return optimizer
        return {"optimizer": optimizer,
                "lr_scheduler": configured(self.lr_scheduler, optimizer, "lr_scheduler")}

    # ------------------------------------------------------------------------------ test
    def on_test_epoch_start(self) -> None:
        self._test_rows = []

    def test_step(self, track: dict, batch_idx: int) -> None:
        """Separates one whole test track and scores it, next to the mixture-as-estimate
        baseline (every source estimated by the mixture itself)."""
        mixture = track["mixture"].numpy()
        references = track["references"].numpy()
        rate = track["sample_rate"]
        estimates = separate_file_audio(self.inference_generator, mixture, rate,
                                        self.eval_batch_size)
        for method, estimate in (("gansep", estimates),
                                 ("mixture", mixture[None].repeat(len(references), 0))):
            scores = {metric: median_over_frames(values)
                      for metric, values in bss_eval(references, estimate, rate).items()}
            for k, source in enumerate(self.generator.sources):
                self._test_rows.append({"track": track["name"], "method": method,
                                        "source": source,
                                        **{m: float(v[k]) for m, v in scores.items()}})

    def on_test_epoch_end(self) -> None:
        medians = median_over_tracks(self._test_rows, "SDR")
        for (method, source), value in medians.items():
            name = "sdr" if method == "gansep" else "mixture_sdr"
            self.log(f"test/{name}/{source}", value)
        table = markdown_table(medians, self.generator.sources, ["gansep", "mixture"])
        tracks = len({row["track"] for row in self._test_rows})
        log.info("Median SDR over %d test tracks (BSSEval v4 SDR, as museval computes it; median over 1 s frames, "
                 "then over tracks):\n%s", tracks, table)
        if self.trainer.log_dir and self.trainer.is_global_zero:
            out = Path(self.trainer.log_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "test_results.json").write_text(json.dumps(self._test_rows, indent=1))
            (out / "test_results.md").write_text(table + "\n")
