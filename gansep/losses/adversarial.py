"""Adversarial objectives: the GAN losses (least squares, hinge, non-saturating), feature
matching, and [`GAN`][], the adversarial term of an [`Objective`][].

The losses take logits of any shape and return a scalar mean; a [`GAN`][] sums them over
the discriminator's sub-discriminators ([`Judgement`][]),
each scaled by its weight.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from gansep.errors import ConfigError
from gansep.models.checkpointing import checkpoint_blocks
from gansep.models.discriminators.base import Discriminator, Judgement


class AdversarialLoss(nn.Module):
    """A GAN loss: what the discriminator minimises on real and fake logits, and what the
    generator minimises on fake logits."""

    name = "gan"

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class LSGAN(AdversarialLoss):
    """Least squares GAN (Mao et al., 2017), targets 1 (real) and 0 (fake), as in HiFi-GAN:
    D: (D(x) - 1)^2 + D(G(m))^2; G: (D(G(m)) - 1)^2."""

    name = "lsgan"

    def discriminator(self, real, fake):
        return (real - 1).pow(2).mean() + fake.pow(2).mean()

    def generator(self, fake):
        return (fake - 1).pow(2).mean()


class Hinge(AdversarialLoss):
    """Hinge loss (Lim & Ye, 2017; as in MelGAN): D: relu(1 - D(x)) + relu(1 + D(G(m)));
    G: -D(G(m))."""

    name = "hinge"

    def discriminator(self, real, fake):
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator(self, fake):
        return -fake.mean()


class NonSaturating(AdversarialLoss):
    """The non-saturating GAN loss (Goodfellow et al., 2014), logistic on logits:
    D: softplus(-D(x)) + softplus(D(G(m))); G: softplus(-D(G(m)))."""

    name = "nsgan"

    def discriminator(self, real, fake):
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator(self, fake):
        return F.softplus(-fake).mean()


class Wasserstein(AdversarialLoss):
    """The Wasserstein critic loss (Arjovsky et al., 2017): D: D(G(m)) - D(x); G: -D(G(m)).
    Pair it with a gradient penalty (``GAN(gradient_penalty=10)``: WGAN-GP, Gulrajani et al.,
    2017) and several critic steps per generator step (``discriminator_steps: 5``)."""

    name = "wgan"

    def discriminator(self, real, fake):
        return fake.mean() - real.mean()

    def generator(self, fake):
        return -fake.mean()


def critic_values(judgements: list[Judgement], batch: int) -> torch.Tensor:
    """One critic value per example: each sub-discriminator's logits averaged over everything
    but the example (sources folded into the batch included), weighted and summed."""
    return sum(j.weight * j.logits.reshape(batch, -1).mean(dim=1) for j in judgements)


def feature_matching(real: list[Judgement], fake: list[Judgement]) -> torch.Tensor:
    """L1 distance between the discriminator's features of reference and separated sources
    (Kumar et al., 2019; Kong et al., 2020), averaged over layers, weighted per
    sub-discriminator. Logits excluded."""
    total = 0.0
    for r, f in zip(real, fake):
        layers = [(a.detach() - b).abs().mean() for a, b in zip(r.features[:-1], f.features[:-1])]
        total = total + f.weight * torch.stack(layers).mean()
    return total


class GAN(nn.Module):
    """The adversarial term of an objective: a discriminator, the GAN loss it is trained with,
    and the weights of the generator's adversarial and feature-matching losses.

    Args:
        discriminator: a discriminator family or a Combined list of them.
        loss: the GAN loss (default least squares).
        weight: weight of the generator's adversarial loss.
        feature_matching: weight of the feature-matching loss (0 leaves it out; HiFi-GAN: 2).
        crop_length: when set, the discriminators (and feature matching) see one random crop
            of this many samples per example, the same span of reference, estimate and mixture
            context, drawn anew each step from ``(crop_seed, step)`` (so a resumed run draws
            the same crops); the reconstruction terms still see the whole output. It cuts the
            discriminators' cost in proportion, at the price of never judging a whole excerpt
            at once (structure longer than the crop goes unjudged).
        crop_seed: seed of the crops.
        reuse_real_features: feature matching compares the separated sources' features with
            the reference's features from this step's discriminator update (computed there
            anyway, detached; as MelGAN does) instead of judging the reference again after
            that update (as HiFi-GAN does). It saves one discriminator forward pass per
            step; the reference features are then those of the discriminator before its
            update.
        gradient_penalty: weight of the WGAN-GP penalty (Gulrajani et al., 2017, Eq. 3):
            ``(||grad D(x_hat)||_2 - 1)^2`` at random interpolates ``x_hat`` of reference and
            separated sources (per example; the mixture context is the same for both, and its
            gradient counts in the norm of conditional discriminators). 0 leaves it out. With
            spectral norm the critic is already Lipschitz-bounded and the penalty mostly
            redundant; batch norm would break the per-example gradient (no gansep
            discriminator has it).
        reconstruction_after_warmup: the factor on the objective's reconstruction terms once
            this term is active (after the module's ``warmup_steps``): 1 keeps them; 0 trains
            the generator on the adversarial and feature-matching losses alone after an L1 (or
            other reconstruction) warm-up. The terms are logged either way.
        checkpointing: recompute every sub-discriminator's activations in the backward passes
            (`gansep.models.checkpointing`), once the discriminator is bound: less memory, more
            compute, the same gradients.
    """

    def __init__(self, discriminator: Discriminator, loss: AdversarialLoss | None = None,
                 weight: float = 1.0, feature_matching: float = 0.0,
                 crop_length: int | None = None, crop_seed: int = 0,
                 gradient_penalty: float = 0.0, reuse_real_features: bool = True,
                 reconstruction_after_warmup: float = 1.0, checkpointing: bool = False):
        super().__init__()
        if crop_length is not None and crop_length < 1:
            raise ConfigError(f"GAN: crop_length must be a positive number of samples (or "
                              f"null), got {crop_length!r}")
        if not reconstruction_after_warmup >= 0:
            raise ConfigError(f"GAN: reconstruction_after_warmup must be >= 0, got "
                              f"{reconstruction_after_warmup!r}")
        self.discriminator = discriminator
        self.loss = loss if loss is not None else LSGAN()
        self.weight = weight
        self.feature_matching = feature_matching
        self.crop_length = crop_length
        self.crop_seed = crop_seed
        self.gradient_penalty = gradient_penalty
        self.reuse_real_features = reuse_real_features
        self.reconstruction_after_warmup = float(reconstruction_after_warmup)
        self.checkpointing = checkpointing

    def bind(self, sources: int, channels: int) -> "GAN":
        """Builds the discriminator for ``sources`` sources of ``channels`` (and, with
        ``checkpointing``, makes its sub-networks recompute their activations)."""
        self.discriminator.bind(sources, channels)
        if self.checkpointing:
            checkpoint_blocks(net for member in self.discriminator.modules()
                              if isinstance(member, Discriminator) and member.nets is not None
                              for nets in member.nets for net in nets)
        return self

    def judge(self, sources: torch.Tensor, mixture: torch.Tensor | None = None
              ) -> list[Judgement]:
        """The judgements of this term's discriminator (or, inside `stand_in`, of its
        stand-in)."""
        return (self.__dict__.get("_stand_in") or self.discriminator)(sources, mixture)

    @contextmanager
    def stand_in(self, discriminator: nn.Module | None):
        """Inside the block the judging passes run ``discriminator``, a stand-in for this term's
        own with the same parameters (one replayed from CUDA graphs, a compiled one; None:
        the term's own); afterwards, also when the block raises, the term's own again. The
        stand-in is not registered as a submodule (no second copy in the state dict)."""
        self.__dict__["_stand_in"] = discriminator
        try:
            yield self
        finally:
            self.__dict__["_stand_in"] = None

    def crop(self, step: int, *signals: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        """The same random span of ``crop_length`` samples of each of ``signals`` (each
        ``(batch, ..., time)`` with equal batch and time), one span per example, drawn from
        ``(crop_seed, step)``; the signals unchanged without a crop or when shorter."""
        time = signals[0].shape[-1]  # (a None, e.g. no mixture, stays None)
        if self.crop_length is None or self.crop_length >= time:
            return signals
        generator = torch.Generator().manual_seed(self.crop_seed * 1_000_003 + int(step))
        starts = torch.randint(0, time - self.crop_length + 1, (signals[0].shape[0],),
                               generator=generator).to(signals[0].device)
        index = starts[:, None] + torch.arange(self.crop_length, device=starts.device)
        out = []
        for signal in signals:
            if signal is None:
                out.append(None)
                continue
            shaped = index.view((index.shape[0],) + (1,) * (signal.dim() - 2) + (-1,))
            out.append(signal.gather(-1, shaped.expand(*signal.shape[:-1], -1)))
        return tuple(out)

    def _judge_together(self, real: torch.Tensor, fake: torch.Tensor,
                        mixture: torch.Tensor | None
                        ) -> tuple[list[Judgement], list[Judgement]]:
        """Real and fake judged in one pass of twice the batch (half the kernel launches of
        two passes; the discriminators have no batch-coupled layers), split back."""
        batch, total = real.shape[0], real.shape[0] + fake.shape[0]
        joint = self.judge(torch.cat([real, fake]),
                           None if mixture is None else torch.cat([mixture, mixture]))
        halves = []
        for judgement in joint:
            rows = judgement.features[0].shape[0] * batch // total
            if rows * total != judgement.features[0].shape[0] * batch:
                raise RuntimeError(f"{judgement.name}: features do not keep the batch first")
            halves.append(([f[:rows] for f in judgement.features],
                           [f[rows:] for f in judgement.features]))
        return ([Judgement(j.name, j.weight, r) for j, (r, _) in zip(joint, halves)],
                [Judgement(j.name, j.weight, f) for j, (_, f) in zip(joint, halves)])

    @property
    def name(self) -> str:
        fm = "+fm" if self.feature_matching else ""
        return f"{self.discriminator.name}({self.loss.name}{fm})"

    def discriminator_loss(self, reference: torch.Tensor, estimate: torch.Tensor,
                           mixture: torch.Tensor, unpaired: torch.Tensor | None = None,
                           keep: list | None = None
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The discriminator's loss on reference (real) and separated (fake, detached) sources,
        ``(batch, sources, channels, time)``; ``mixture`` is the matching input span. With
        ``unpaired`` solo examples ``(any batch, sources, channels, time)`` those are the real
        examples instead (semi-supervised training; unconditional discriminators only).
        ``keep``, a list the caller holds: filled with detached copies of the real
        examples' features, for `generator_loss`'s feature matching (``real``) when
        ``reuse_real_features``; the term itself keeps nothing between the two passes."""
        if unpaired is not None:
            if self._conditional():
                raise ConfigError(f"{self.discriminator.name}: a conditional discriminator "
                                  "cannot learn from unpaired sources (they have no mixture)")
            reference, mixture = unpaired, None
        real, fake = self._judge_together(reference, estimate.detach(), mixture)
        if keep is not None:
            keep.clear()
            if self.feature_matching and self.reuse_real_features and unpaired is None:
                # Copies, so that the joint pass's real+fake activations are not kept alive.
                keep += [Judgement(r.name, r.weight, [f.detach().clone() for f in r.features])
                         for r in real]
        terms: dict[str, torch.Tensor] = {}
        for r, f in zip(real, fake):
            value = f.weight * self.loss.discriminator(r.logits, f.logits)
            terms[f"d_{f.name}"] = terms.get(f"d_{f.name}", 0.0) + value
        if self.gradient_penalty:
            terms["gp"] = self.gradient_penalty * self.penalty(reference, estimate.detach(),
                                                               mixture)
        return sum(terms.values()), terms

    def _conditional(self) -> bool:
        return any(getattr(m, "conditional", False) for m in self.discriminator.modules()
                   if isinstance(m, Discriminator))

    def penalty(self, reference: torch.Tensor, estimate: torch.Tensor,
                mixture: torch.Tensor | None) -> torch.Tensor:
        """The WGAN-GP term (unweighted): mean over examples of ``(||grad||_2 - 1)^2``, the
        gradient of the critic value at a random interpolate of reference and estimate (and
        of the mixture context, when the discriminator sees it)."""
        batch = estimate.shape[0]
        epsilon = torch.rand((batch,) + (1,) * (reference.dim() - 1), device=reference.device,
                             dtype=reference.dtype)
        between = (epsilon * reference + (1 - epsilon) * estimate).requires_grad_(True)
        inputs = [between]
        if reference.shape[0] != batch:  # more unpaired examples than separated ones
            reference = reference[:batch]
        if mixture is not None and self._conditional():
            mixture = mixture.detach().clone().requires_grad_(True)
            inputs.append(mixture)
        values = critic_values(self.discriminator(between, mixture), batch)
        grads = torch.autograd.grad(values.sum(), inputs, create_graph=True)
        norm = torch.sqrt(sum(g.reshape(batch, -1).pow(2).sum(dim=1) for g in grads) + 1e-12)
        return (norm - 1).pow(2).mean()

    def generator_loss(self, reference: torch.Tensor, estimate: torch.Tensor,
                       mixture: torch.Tensor, real: list[Judgement] | None = None
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The generator's weighted adversarial (+ feature-matching) loss and its terms
        (``real``: the real examples' features that `discriminator_loss` kept, else they are
        judged here)."""
        fake = self.judge(estimate, mixture)
        terms: dict[str, torch.Tensor] = {}
        for f in fake:
            value = f.weight * self.loss.generator(f.logits)
            terms[f"adv_{f.name}"] = terms.get(f"adv_{f.name}", 0.0) + value
        total = self.weight * sum(terms.values())
        if self.feature_matching:
            if not real or real[0].features[0].shape != fake[0].features[0].shape:
                with torch.no_grad():
                    real = self.discriminator(reference, mixture)
            terms["fm"] = feature_matching(real, fake)
            total = total + self.feature_matching * terms["fm"]
        return total, terms
