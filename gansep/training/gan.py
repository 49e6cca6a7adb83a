"""The GAN LightningModule: generator and discriminators trained in alternation (manual
optimisation, as in Lightning's GAN example)."""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch.nn.parallel import DistributedDataParallel

from gansep.data.sampling import Batch
from gansep.errors import ConfigError
from gansep.eval.metrics import Metric
from gansep.losses import Objective
from gansep.models.generator import Generator
from gansep.models.lora import LoRA
from gansep.training.ema import EMA
from gansep.training.robust import configured, gradient_norm
from gansep.training.separator import Separator

log = logging.getLogger(__name__)


def adamw_gan(params) -> torch.optim.Optimizer:
    """The GAN default: HiFi-GAN's AdamW (betas 0.8/0.99) at the Wave-U-Net learning rate."""
    return torch.optim.AdamW(params, lr=1e-4, betas=(0.8, 0.99))


def _step_uncounted(module: pl.LightningModule, optimizer) -> None:
    """Steps a (Lightning-wrapped) optimiser through the strategy's public ``optimizer_step``
    (so that precision plugins, e.g. AMP's gradient scaler, still apply) without the wrapper's
    step hooks: Lightning counts every optimiser step of manual optimisation in
    ``global_step``, and the discriminator's are left out so that ``global_step`` (and
    ``max_steps``, warm-up, checkpoint names) count generator steps."""
    module.trainer.strategy.optimizer_step(optimizer.optimizer, lambda: None, model=module)


@contextmanager
def frozen(module: torch.nn.Module):
    """``module``'s parameters without gradients inside the block; afterwards each parameter's
    own ``requires_grad`` is restored, also when the block raises, so that a parameter frozen
    on purpose stays frozen."""
    flags = [(parameter, parameter.requires_grad) for parameter in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield module
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


class GANSeparator(Separator):
    """Trains ``generator`` against the discriminator of ``objective.adversarial`` (or with the
    reconstruction terms alone when the objective has none, so every objective of a comparison
    runs in the same module).

    Args:
        generator: the separation network.
        objective: reconstruction terms plus the adversarial term (discriminator, GAN loss,
            weights).
        optimizer: the generator's optimiser (None: AdamW, lr 1e-4, betas 0.8/0.99).
        discriminator_optimizer: the discriminators' optimiser (same default).
        lr_scheduler, discriminator_lr_scheduler: optional schedulers of each.
        scheduler_interval: step the schedulers every ``step`` or every ``epoch``.
        discriminator_steps: discriminator updates per generator update.
        warmup_steps: generator steps trained on reconstruction alone before the adversarial
            terms (and the discriminator's training) start.
        gradient_clip: max gradient norm of the generator (None: no clipping).
        discriminator_gradient_clip: max gradient norm of the discriminators.
        freeze: glob patterns of generator parameter names left out of training (see
            [`Separator`][gansep.training.Separator]).
        lora: low-rank adapters on the generator, the only weights that train (see
            [`Separator`][gansep.training.Separator]).
        save_frozen: false: checkpoints leave out the frozen weights (see
            [`Separator`][gansep.training.Separator]).
        ema_decay: keep an exponential moving average of the generator's weights with this
            decay, used for validation, test and export (None: no average).
        eval_batch_size: chunks per forward pass when separating whole tracks.
        max_bad_steps: discriminator or generator updates whose loss (or, without a
            GradScaler, gradient norm) is not finite are skipped; more than this many in a row
            stop the run with a DivergenceError naming the term and step.
        init_from, init_from_ema: start the generator (and so its EMA copy) from a trained
            checkpoint or export; see [`Separator`][].
        metrics: metrics beside BSSEval v4 and SI-SDR; see [`Separator`][].
    """

    adversarial_training = True

    def __init__(self, generator: Generator, objective: Objective | None = None,
                 optimizer: OptimizerCallable | None = None,
                 discriminator_optimizer: OptimizerCallable | None = None,
                 lr_scheduler: LRSchedulerCallable | None = None,
                 discriminator_lr_scheduler: LRSchedulerCallable | None = None,
                 scheduler_interval: str = "epoch", discriminator_steps: int = 1,
                 warmup_steps: int = 0, gradient_clip: float | None = None,
                 discriminator_gradient_clip: float | None = None,
                 ema_decay: float | None = None, eval_batch_size: int = 4,
                 max_bad_steps: int = 10, init_from: str | None = None,
                 init_from_ema: bool = True, metrics: list[Metric] | None = None,
                 freeze: list[str] | None = None, lora: LoRA | None = None,
                 save_frozen: bool = True):
        super().__init__(generator, objective, optimizer if optimizer is not None else adamw_gan,
                         lr_scheduler, eval_batch_size, max_bad_steps, init_from, init_from_ema,
                         metrics, freeze, lora, save_frozen)
        if scheduler_interval not in ("step", "epoch"):
            raise ConfigError(f"scheduler_interval must be 'step' or 'epoch', got "
                             f"{scheduler_interval!r}")
        if discriminator_steps < 1 or warmup_steps < 0:
            raise ConfigError("discriminator_steps must be >= 1 and warmup_steps >= 0, got "
                             f"{discriminator_steps} and {warmup_steps}")
        self.automatic_optimization = False
        self.discriminator_optimizer = (discriminator_optimizer
                                        if discriminator_optimizer is not None else adamw_gan)
        self.discriminator_lr_scheduler = discriminator_lr_scheduler
        self.scheduler_interval = scheduler_interval
        self.discriminator_steps = discriminator_steps
        self.warmup_steps = warmup_steps
        self.gradient_clip = gradient_clip
        self.discriminator_gradient_clip = discriminator_gradient_clip
        self.ema = EMA(generator, ema_decay) if ema_decay is not None else None
        if self.adversarial is not None:
            judged = min(self.adversarial.crop_length or generator.geometry.output_length,
                         generator.geometry.output_length)
            needed = self.adversarial.discriminator.min_length
            if judged < needed:
                raise ConfigError(
                    f"GANSeparator: the discriminators judge {judged} samples "
                    f"(crop_length {self.adversarial.crop_length}, output_length "
                    f"{generator.geometry.output_length}), but {self.adversarial.name} needs at "
                    f"least {needed} (its largest n_fft / 2 + 1)")

    @property
    def adversarial(self):
        return self.objective.adversarial

    @property
    def inference_generator(self) -> Generator:
        return self.ema.module if self.ema is not None else self.generator

    def on_fit_start(self) -> None:
        wrapped = self.trainer.strategy.model  # the DDP wrapper once the strategy set up
        if (self.adversarial is not None and isinstance(wrapped, DistributedDataParallel)
                and not wrapped.find_unused_parameters):
            # Discriminator and generator backward passes each leave the other's parameters
            # without gradients; DDP must be told so (Lightning issue #20328).
            raise ConfigError("GANSeparator under DDP needs --trainer.strategy "
                             "ddp_find_unused_parameters_true (or DDPStrategy with "
                             "find_unused_parameters: true)")

    def configure_optimizers(self):
        optimizers = [configured(self.optimizer, self.trainable_parameters(), "optimizer")]
        schedulers = []
        if self.lr_scheduler is not None:
            schedulers.append(configured(self.lr_scheduler, optimizers[0], "lr_scheduler"))
        if self.adversarial is not None:
            optimizers.append(configured(self.discriminator_optimizer,
                                         self.adversarial.parameters(),
                                         "discriminator_optimizer"))
            if self.discriminator_lr_scheduler is not None:
                schedulers.append(configured(self.discriminator_lr_scheduler, optimizers[1],
                                             "discriminator_lr_scheduler"))
        return optimizers, schedulers

    def _optimizers(self):
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    def _update(self, optimizer, loss: torch.Tensor, terms: dict, clip: float | None,
                parameters, where: str) -> bool:
        """Backward, check, clip and step; False (and no step) when a term or, without a
        GradScaler (16-bit, which skips such steps itself), the gradient norm is not finite.
        Terms and norm are checked together after the backward pass: one host
        synchronisation per update."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        values = dict(terms)
        if not str(self.trainer.precision).startswith("16"):
            values["gradient norm"] = gradient_norm(parameters)
        if not self.finite(values, where):
            optimizer.zero_grad(set_to_none=True)
            return False
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        return True

    @property
    def adversarial_active(self) -> bool:
        return self.adversarial is not None and self.global_step >= self.warmup_steps

    optimizer_names = ("generator", "discriminator")

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        mixture, reference, auxiliary = batch.mixture, batch.sources, batch.auxiliary
        optimizers = self._optimizers()
        estimate, state = self.separate(self.graphed_generator or self.generator, mixture,
                                        auxiliary)
        g = self.generator.geometry
        # The discriminators judge the output span; conditional ones see the mixture there.
        context = mixture[..., g.context_left : g.context_left + estimate.shape[-1]]
        terms: dict[str, torch.Tensor] = {}
        judged_examples = (reference, estimate, context)
        targets = self.task.with_targets(auxiliary)
        if targets is not None and not bool(targets.all()):
            # Excerpts without stems have no reference for the discriminators to judge.
            targets = targets.to(estimate.device)
            judged_examples = tuple(x[targets] for x in judged_examples)
        adversarial_now = self.adversarial_active and len(judged_examples[0]) > 0
        if adversarial_now:
            # Both updates of this step judge the same crop (when the GAN term crops).
            judged = self.adversarial.crop(self.global_step, *judged_examples)
            unpaired = (None if batch.unpaired is None else  # semi-supervised data's solos
                        self.adversarial.crop(self.global_step, batch.unpaired.flatten(0, 1))[0])
            d_optimizer = optimizers[1]
            kept: list = []  # the real examples' features, for feature matching below
            for _ in range(self.discriminator_steps):
                with self.adversarial.stand_in(self.graphed_discriminator):
                    d_loss, d_terms = self.adversarial.discriminator_loss(*judged, unpaired,
                                                                          keep=kept)
                terms.update(d_terms, d_loss=d_loss)
                if self._update(d_optimizer, d_loss, {**d_terms, "d_loss": d_loss},
                                self.discriminator_gradient_clip, self.adversarial.parameters(),
                                "discriminator"):
                    _step_uncounted(self, d_optimizer)
        loss, g_terms = self.objective_terms(estimate, reference, auxiliary, state)
        with ExitStack() as stack:
            if adversarial_now:
                # The discriminators only pass gradients through to the generator here, and
                # stay frozen through the backward pass: a checkpointed discriminator
                # recomputes its activations there, and must record the same graph.
                stack.enter_context(frozen(self.adversarial))
                with self.adversarial.stand_in(self.graphed_discriminator):
                    adversarial, adversarial_terms = self.adversarial.generator_loss(
                        *judged, real=kept)
                loss = loss * self.adversarial.reconstruction_after_warmup + adversarial
                g_terms.update(adversarial_terms)
            terms.update(g_terms)
            g_optimizer = optimizers[0]
            updated = self._update(g_optimizer, loss, {**g_terms, "loss": loss},
                                   self.gradient_clip, self.generator.parameters(), "generator")
        if not updated:
            self.log("train/skipped_steps", float(self.guard.skipped))
            return None
        g_optimizer.step()
        self.guard.passed()
        if self.ema is not None:
            self.ema.update(self.generator)
        if self.scheduler_interval == "step":
            self._step_schedulers()
        self.log_terms("train", loss, terms, len(mixture))
        return loss.detach()

    def _step_schedulers(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        generator_optimizer = self._optimizers()[0].optimizer
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            # The discriminators' schedule starts once they have trained (after the warm-up).
            if (scheduler.optimizer is generator_optimizer
                    or self.adversarial_active and self.global_step > self.warmup_steps):
                scheduler.step()

    def on_train_epoch_end(self) -> None:
        if self.scheduler_interval == "epoch":
            self._step_schedulers()
