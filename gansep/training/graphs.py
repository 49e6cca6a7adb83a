"""CUDA-graph capture of the networks of an adversarial step, without torch.compile.

An adversarial step runs thousands of small kernels (every sub-discriminator's convolutions,
weight norms and activations, forward and backward, in both updates), and on a GPU it is bound
by launching them from Python rather than by arithmetic. The excerpt and crop shapes are
static, so each network's forward and backward pass can be recorded once as CUDA graphs
(``torch.cuda.make_graphed_callables``) and replayed every step with one launch each.

A network is captured once per call signature: the shapes and dtypes of its inputs, which of
them take gradients, whether its parameters do, and the autocast state. So the discriminator
has one pair of graphs for its update (reference and estimate together, parameters trained)
and one for the generator's (estimate only, gradients to the input). Calls the graphs cannot
serve run eagerly: evaluation (no gradients), the WGAN-GP penalty (double backward), a
network in eval mode. Capture costs a few warm-up passes on the first step of each
signature; a capture that fails is reported once and that signature runs eagerly. The warm-up passes run the network forward and backward on the first
step's inputs (no parameter changes; spectral norm's power iteration advances a few steps).

Losses, the non-finite guard, gradient clipping, the optimisers and the EMA stay eager (they
are a small share of the launches). Parameters are updated in place, so the graphs keep
reading the current weights; checkpoints, resume and export are unchanged.
"""

from __future__ import annotations

import logging
import torch
from torch import nn

from gansep.models.discriminators.base import Discriminator, Judgement
from gansep.training.layout import Layout

log = logging.getLogger(__name__)

#: which networks are replayed from CUDA graphs (the same choices as the layout's)
CudaGraphs = Layout
#: warm-up passes before capture (cuDNN benchmarking and lazy initialisation stay outside)
WARMUP = 3


def unavailable(device: torch.device) -> str | None:
    """Why CUDA graphs cannot be used for networks on ``device``, or None."""
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device (the networks are on {device.type})"
    return None


def signature(*tensors: torch.Tensor | None) -> tuple:
    """What a captured graph is specific to: each input's shape, dtype and gradient flag, and
    the autocast state."""
    key = [(None if t is None else (tuple(t.shape), t.dtype, t.requires_grad)) for t in tensors]
    autocast = torch.is_autocast_enabled("cuda")
    return (tuple(key), autocast, torch.get_autocast_dtype("cuda") if autocast else None)


def _sample(tensor: torch.Tensor) -> torch.Tensor:
    """A detached copy to capture with (the live tensor stays out of the capture's autograd)."""
    return tensor.detach().clone().requires_grad_(tensor.requires_grad)


class _FlatJudgements(nn.Module):
    """A discriminator whose output is one flat tuple of feature tensors (what capture takes);
    the judgements' names, weights and feature counts are kept to rebuild them."""

    def __init__(self, discriminator: Discriminator):
        super().__init__()
        self.discriminator = discriminator
        self.layout: list[tuple[str, float, int]] = []

    def forward(self, sources: torch.Tensor, *mixture: torch.Tensor) -> tuple[torch.Tensor, ...]:
        judgements = self.discriminator(sources, mixture[0] if mixture else None)
        self.layout = [(j.name, j.weight, len(j.features)) for j in judgements]
        return tuple(f for j in judgements for f in j.features)

    def rebuild(self, flat: tuple[torch.Tensor, ...]) -> list[Judgement]:
        judgements, at = [], 0
        for name, weight, count in self.layout:
            judgements.append(Judgement(name, weight, list(flat[at : at + count])))
            at += count
        return judgements


class _Forward(nn.Module):
    """A network whose forward takes and returns tensors only (the generator)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class Graphs:
    """Captured forward/backward graphs of one network, one pair per call signature.

    Args:
        network: the module to replay (its parameters must stay the same tensors).
        name: how messages call it.
    """

    def __init__(self, network: nn.Module, name: str):
        self.network = network
        self.name = name
        self.captured: dict[tuple, nn.Module] = {}
        self.failed: set[tuple] = set()

    def usable(self) -> bool:
        return torch.is_grad_enabled() and self.network.training

    def _wrap(self, *inputs: torch.Tensor) -> nn.Module:
        raise NotImplementedError

    def replayable(self, *inputs: torch.Tensor) -> nn.Module | None:
        """The captured callable for these inputs (capturing it on first sight), or None where
        this call runs eagerly."""
        if not self.usable():
            return None
        key = signature(*inputs) + (any(p.requires_grad for p in self.network.parameters()),)
        if key in self.failed:
            return None
        if key not in self.captured:
            wrapper = self._wrap(*inputs)
            try:
                self.captured[key] = torch.cuda.make_graphed_callables(
                    wrapper, tuple(_sample(x) for x in inputs), num_warmup_iters=WARMUP,
                    allow_unused_input=True)
            except (RuntimeError, AssertionError) as error:
                self.failed.add(key)
                log.warning("CUDA graphs: capturing %s failed (%s: %s); it runs eagerly for "
                            "inputs %s", self.name, type(error).__name__,
                            str(error).splitlines()[0][:200] if str(error) else "",
                            [tuple(x.shape) for x in inputs])
                return None
            log.info("CUDA graphs: captured %s for inputs %s (%d signature(s))", self.name,
                     [tuple(x.shape) for x in inputs], len(self.captured))
        return self.captured[key]


class GraphedDiscriminator(Graphs):
    """Calls a discriminator like the discriminator itself, replaying captured graphs where
    the call allows."""

    def _wrap(self, *inputs: torch.Tensor) -> nn.Module:
        return _FlatJudgements(self.network)

    def __call__(self, sources: torch.Tensor,
                 mixture: torch.Tensor | None = None) -> list[Judgement]:
        inputs = (sources,) if mixture is None else (sources, mixture)
        graphed = self.replayable(*inputs)
        if graphed is None:
            return self.network(sources, mixture)
        return graphed.rebuild(graphed(*inputs))


class GraphedGenerator(Graphs):
    """Calls a generator (mixture to estimates) like the generator itself, replaying captured
    graphs where the call allows."""

    def _wrap(self, *inputs: torch.Tensor) -> nn.Module:
        return _Forward(self.network)

    def __call__(self, mixture: torch.Tensor) -> torch.Tensor:
        graphed = self.replayable(mixture)
        return self.network(mixture) if graphed is None else graphed(mixture)

    def __getattr__(self, name: str):
        # everything else (geometry, the lyrics head's separate_with_frames) is the
        # generator's own, eager
        if name == "network":
            raise AttributeError(name)
        return getattr(self.network, name)
