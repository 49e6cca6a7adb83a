"""The LightningModule that trains a generator with a reconstruction objective."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable

from gansep.version import __version__
from gansep.checkpoints import CheckpointError, initialise_from, weights_digest
from gansep.data.sampling import Batch
from gansep.errors import ConfigError
from gansep.eval.evaluate import (Loaded, TrackError, TrackJob, finish, run_jobs,
                                  separate_track, write_result)
from gansep.eval.metrics import Metric, TrackAudio, standard_metrics
from gansep.eval.metrics import provenance as metrics_provenance
from gansep.eval.results import markdown_table, median_over_tracks, read_track_scores
from gansep.losses import Objective
from gansep.models import generator_class_path
from gansep.models.generator import Generator
from gansep.models.lora import LoRA
from gansep.training.robust import FiniteGuard, configured
from gansep.training.tasks import task_of

log = logging.getLogger(__name__)


def _plain(value) -> bool:
    """Whether ``value`` is plain data (what a configuration holds)."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def freeze_parameters(generator: Generator, patterns: list[str]) -> int:
    """Freezes the generator's parameters whose names match one of the glob ``patterns``;
    returns how many tensors it froze. ConfigError for a pattern that matches nothing (a typo
    would train everything) or for freezing every parameter."""
    import fnmatch

    names = dict(generator.named_parameters())
    frozen = set()
    for pattern in patterns:
        matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            some = ", ".join(list(names)[:4])
            raise ConfigError(f"freeze: {pattern!r} matches no parameter of "
                              f"{type(generator).__name__} (its names look like {some}, ...)")
        frozen.update(matched)
    if frozen and len(frozen) == len(names):
        raise ConfigError(f"freeze: {patterns} freeze every parameter of "
                          f"{type(generator).__name__}: nothing would train")
    for name in frozen:
        names[name].requires_grad_(False)
    if frozen:
        count = sum(names[n].numel() for n in frozen)
        total = sum(p.numel() for p in names.values())
        log.info("froze %d of %d parameter tensors (%s of %s weights)", len(frozen), len(names),
                 f"{count:,}", f"{total:,}")
    return len(frozen)


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
        metrics: metrics scored beside BSSEval v4 and SI-SDR (see
            [`gansep.eval.metrics`][]) in ``gansep test``, by the
            [`SeparationMetrics`][] callback and by
            ``gansep evaluate --config`` of this run.
        freeze: glob patterns of generator parameter names (``model.band_split.*``,
            ``down.0.*``) left out of training: no gradients, not in the optimiser; each
            pattern must match a parameter.
        lora: low-rank adapters ([`gansep.models.lora.LoRA`][]) on the generator's linear
            and convolution layers, added after ``init_from`` and ``freeze``: only they
            train. Checkpoints hold the adapted network; evaluation and ``gansep export``
            merge the adapters into plain weights.
        save_frozen: false: checkpoints leave out the generator's frozen weights (those
            ``freeze`` and ``lora`` keep from training), recording the SHA-256 of
            ``init_from`` instead, which they are read back from: a resumed run checks it;
            ``gansep evaluate``/``export`` take it as ``--base``. Needs ``init_from``.
    """

    def __init__(self, generator: Generator, objective: Objective | None = None,
                 optimizer: OptimizerCallable | None = None,
                 lr_scheduler: LRSchedulerCallable | None = None, eval_batch_size: int = 4,
                 max_bad_steps: int = 10, init_from: str | None = None,
                 init_from_ema: bool = True, metrics: list[Metric] | None = None,
                 freeze: list[str] | None = None, lora: LoRA | None = None,
                 save_frozen: bool = True):
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
        freeze_parameters(generator, freeze or [])
        self.base = None  # the record of the weights a checkpoint leaves out
        if not save_frozen:
            if init_from is None:
                raise ConfigError("save_frozen: false needs init_from (the frozen weights are "
                                  "read back from it)")
            self.base = {"init_from": str(init_from), "sha256": weights_digest(init_from),
                         "ema": init_from_ema}
        self.lora = lora
        if lora is not None:
            lora.apply(generator)
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
        self.metrics = list(metrics or [])
        standard_metrics(extra=self.metrics)  # ConfigError now for a name given twice
        self.task = task_of(self.objective)
        self._validation_items: list = []

    adversarial_training = False
    #: Stand-ins with the same parameters that replay the networks from CUDA graphs, set by
    #: the `SpeedUps` callback for the length of a fit.
    graphed_generator = None
    graphed_discriminator = None

    @property
    def inference_generator(self) -> Generator:
        """The network used for validation, test and export."""
        return self.generator

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Plain data that rebuilds the generator without unpickling any object.
        checkpoint["gansep"] = {"generator": self.generator.config,
                                "generator_class": generator_class_path(self.generator),
                                **({"lora": self.lora.config} if self.lora else {}),
                                **({"base": self.leave_out_frozen(checkpoint)}
                                   if self.base else {}),
                                "objective": self.objective.name,
                                "module": type(self).__name__, "version": __version__,
                                "guard": self.guard.state_dict()}
        # The random state of the next step (dropout masks: HT Demucs's and the RoFormers'
        # transformers draw them), so that a resumed run continues the same sequence.
        checkpoint["rng_state"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            checkpoint["rng_state"]["cuda"] = torch.cuda.get_rng_state_all()

    def finite(self, values: dict, where: str) -> bool:
        """The guard's verdict on ``values``, agreed by all ranks."""
        agree = None
        if self._trainer is not None and self.trainer.world_size > 1:
            agree = lambda ok: self.trainer.strategy.reduce_boolean_decision(ok, all=True)  # noqa: E731
        return self.guard.check(values, where, self.global_step, agree)

    def frozen_names(self) -> list[str]:
        """The names of the generator's frozen weights."""
        return sorted(name for name, p in self.generator.named_parameters()
                      if not p.requires_grad)

    def frozen_keys(self) -> list[str]:
        """The state-dict keys of the generator's frozen weights (and of their EMA copies)."""
        prefixes = ["generator."] + (["ema.module."] if getattr(self, "ema", None) else [])
        return [prefix + name for prefix in prefixes for name in self.frozen_names()]

    def leave_out_frozen(self, checkpoint: dict) -> dict:
        """Drops the frozen weights from a checkpoint's state dict; returns the base record
        that says where they are read back from."""
        state = checkpoint["state_dict"]
        for key in self.frozen_keys():
            state.pop(key, None)
        return {**self.base, "tensors": self.frozen_names()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        base = checkpoint.get("gansep", {}).get("base")
        if base is not None:  # frozen weights left out: this run's init_from holds them
            mine = self.base or {}
            if mine.get("sha256") != base.get("sha256"):
                raise CheckpointError(
                    f"the checkpoint holds only the weights that trained; its frozen ones are "
                    f"those of {base.get('init_from')} (SHA-256 {str(base.get('sha256'))[:12]}"
                    "...), but this run's init_from "
                    + (f"{mine['init_from']} has {mine['sha256'][:12]}..." if mine else
                       "is not set with save_frozen: false"))
            own = self.state_dict()
            for key in self.frozen_keys():
                checkpoint["state_dict"].setdefault(key, own[key])
        # test/validate restore the weights but not the loops: the step the weights were
        # trained to is the checkpoint's, not the trainer's (0 there).
        self.checkpoint_step = checkpoint.get("global_step")
        if "guard" in checkpoint.get("gansep", {}):
            self.guard.load_state_dict(checkpoint["gansep"]["guard"])
        state = checkpoint.get("rng_state")
        # One process's state: with several ranks each keeps its own seeding rather than all
        # drawing the same dropout masks.
        if state is not None and (self._trainer is None or self.trainer.world_size == 1):
            torch.set_rng_state(state["torch"])
            if "cuda" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda"])

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
        if stage == "train":
            self.log_learning_rates()

    #: What each optimiser of `configure_optimizers` trains, in its order: its learning rate
    #: is logged as ``lr/<name>`` (not Lightning's ``lr-AdamW``, ``lr-AdamW-1``).
    optimizer_names: tuple[str, ...] = ("generator",)

    def log_learning_rates(self) -> None:
        """Logs each optimiser's current learning rate as ``lr/<its name>`` (first group)."""
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        for name, optimizer in zip(self.optimizer_names, optimizers):
            self.log(f"lr/{name}", float(optimizer.param_groups[0]["lr"]), on_step=True,
                     on_epoch=False)

    def separate(self, generator, mixture: torch.Tensor,
                 auxiliary) -> tuple[torch.Tensor, object | None]:
        """``generator``'s estimates of ``mixture``, and what the objective's auxiliary term
        reads from the same pass (see `gansep.training.tasks`)."""
        return self.task.separate(generator, mixture, auxiliary)

    def objective_terms(self, estimates, sources, auxiliary, state):
        targets = self.task.with_targets(auxiliary)
        return self.objective(estimates, sources,
                              None if targets is None else targets.to(estimates.device), state)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        estimates, state = self.separate(self.graphed_generator or self.generator,
                                         batch.mixture, batch.auxiliary)
        total, terms = self.objective_terms(estimates, batch.sources, batch.auxiliary, state)
        if not self.finite({**terms, "loss": total}, "generator"):
            self.log("train/skipped_steps", float(self.guard.skipped))
            return None  # Lightning skips backward and the optimiser step
        self.guard.passed()
        self.log_terms("train", total, terms, len(batch))
        return total

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        estimates, state = self.separate(self.inference_generator, batch.mixture,
                                         batch.auxiliary)
        total, terms = self.objective_terms(estimates, batch.sources, batch.auxiliary, state)
        self.log_terms("val", total, terms, len(batch))
        if state is not None:
            self._validation_items += self.task.validation_items(state, self.generator)

    def on_validation_epoch_start(self) -> None:
        self._validation_items = []

    def on_validation_epoch_end(self) -> None:
        """What the auxiliary task logs of the validation epoch (`gansep.training.tasks`)."""
        for name, value in self.task.validation_values(self._validation_items).items():
            self.log(f"val/{name}", value, sync_dist=True)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The generator's parameters that train (all but the frozen ones)."""
        return [p for p in self.generator.parameters() if p.requires_grad]

    def configure_optimizers(self):
        optimizer = configured(self.optimizer, self.trainable_parameters(), "optimizer")
        if self.lr_scheduler is None:
            return optimizer
        return {"optimizer": optimizer,
                "lr_scheduler": configured(self.lr_scheduler, optimizer, "lr_scheduler")}

    # ------------------------------------------------------------------------------ test
    def test_folder(self) -> Path | None:
        """Where ``gansep test`` writes its results: the logger's folder (None: no logger)."""
        return Path(self.trainer.log_dir) if self.trainer.log_dir else None

    def on_test_epoch_start(self) -> None:
        self._test_failures: dict[str, str] = {}
        folder = self.test_folder()
        if folder is not None and any((folder / "test").glob("*.json")):
            raise ConfigError(f"{folder / 'test'} already holds test results: a new test "
                              "writes to a logger version of its own (set "
                              "--trainer.logger.init_args.version, or remove the old results)")
        if self.trainer.world_size > 1:
            self.trainer.strategy.barrier()  # every rank checked before any writes

    def test_step(self, track: dict, batch_idx: int) -> None:
        """Separates one whole test track and scores it by the run's metrics (BSSEval by its
        torch backend, on the module's device), next to the mixture-as-estimate baseline
        (every source estimated by the mixture itself); each result is written in museval's
        format, atomically, as ``gansep evaluate`` writes it (``LOG_DIR/test/<track>.json``,
        the baseline's under ``LOG_DIR/mixture/test/``)."""
        mixture = track["mixture"].numpy()
        references = track["references"].numpy()
        rate, name, where = track["sample_rate"], track["name"], track.get("folder")
        # BSSEval in torch on the module's device (a GPU run scores on its GPU).
        metrics = standard_metrics(backend="torch", device=str(self.device), extra=self.metrics)
        step = getattr(self, "checkpoint_step", None)
        provenance = {"command": "test",
                      "global_step": self.global_step if step is None else step,
                      "weights": "ema" if self.inference_generator is not self.generator
                      else "raw", **metrics_provenance(metrics),
                      **({"data_sha256": track["data_sha256"]} if track.get("data_sha256")
                         else {})}

        def separated() -> Loaded:
            return Loaded(separate_track(self.inference_generator, mixture, references, rate,
                                         self.eval_batch_size, name, where))

        def baseline() -> Loaded:  # every source estimated by the mixture itself
            return Loaded(TrackAudio(references, mixture[None].repeat(len(references), 0), rate,
                                     list(self.generator.sources), where, mixture, name))

        folder = self.test_folder()
        # Both scored in one batch: one length, so the torch backend runs them together.
        jobs = [TrackJob(name, lambda: {**provenance, "method": "gansep"}, separated),
                TrackJob(name, lambda: {**provenance, "method": "mixture"}, baseline)]
        for job, _, result in run_jobs(jobs, metrics, batch_tracks=2):
            if isinstance(result, TrackError):
                self._test_failures[name] = str(result)
                log.error("%s: %s", name, result)
                return
            method = job.provenance()["method"]
            if folder is not None:
                write_result(folder if method == "gansep" else folder / method, name, result,
                             job.provenance())

    def on_test_epoch_end(self) -> None:
        folder = self.test_folder()
        if folder is None:
            log.warning("no logger: gansep test wrote no results")
            return
        if self.trainer.world_size > 1:
            self.trainer.strategy.barrier()  # every rank's tracks are written
        rows = [{**row, "method": method}
                for method, where in (("gansep", folder), ("mixture", folder / "mixture"))
                for row in read_track_scores(where)]
        medians = median_over_tracks(rows, "SDR")
        for (method, source), value in medians.items():
            name = "sdr" if method == "gansep" else "mixture_sdr"
            self.log(f"test/{name}/{source}", value)
        table = markdown_table(medians, self.generator.sources, ["gansep", "mixture"])
        tracks = len({row["track"] for row in rows})
        log.info("Median SDR over %d test tracks (BSSEval v4 SDR, as museval computes it; median "
                 "over 1 s frames, then over tracks):\n%s", tracks, table)
        if self.trainer.is_global_zero:
            finish(folder, self._test_failures)
            finish(folder / "mixture", {})
            for where, what in ((folder, "gansep"), (folder / "mixture", "the mixture")):
                log.info("Results of %s (%s):\n%s", what, where / "results.md",
                         (where / "results.md").read_text())
