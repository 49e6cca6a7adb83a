"""Low-rank adapters (LoRA, through ``peft``) on a generator's linear and convolution layers:
fine-tuning a large separator by training ``rank``-sized updates ``B A`` beside frozen
weights (``W x + (alpha / rank) B A x``), the way RoFormer users fit a fine-tuning run into
memory. The adapted layers are chosen by glob patterns over module names (``targets``);
[`merge_lora`][] folds every adapter back into its layer, so an exported separator is a
plain network again (``gansep export`` does it). Needs the ``lora`` extra.
"""

from __future__ import annotations

import fnmatch
import logging
import math

from torch import nn

from gansep.devices import physical_memory
from gansep.errors import ConfigError
from gansep.extras import require

log = logging.getLogger(__name__)

#: The layer types an adapter can sit on (those peft's LoRA adapts in place).
ADAPTABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def adaptable(layer: nn.Module) -> bool:
    """Whether peft's adapter computes a low-rank update of this layer's own operation: a
    linear layer, or a convolution that is not dilated, not grouped and zero-padded. (peft
    builds a convolution's adapter from its kernel, stride and padding only: beside a
    dilated one (HT Demucs's residual branches) its output has another length, beside a
    grouped one its update another shape, and beside a reflect-padded one it would not merge
    into the layer exactly.)"""
    if isinstance(layer, nn.Linear):
        return True
    return (isinstance(layer, ADAPTABLE) and layer.groups == 1 and layer.padding_mode == "zeros"
            and all(d == 1 for d in layer.dilation))


class LoRA:
    """Low-rank adapters for a run's generator (``model.init_args.lora`` in YAML).

    Args:
        rank: the rank of each update (``r``).
        alpha: the update's scale numerator (the update is ``alpha / rank`` times ``B A``).
        targets: glob patterns over the generator's module names (``down.*``,
            ``model.layers.*.attn.to_qkv``); each must match at least one linear or
            convolution layer. Default: every such layer.
        dropout: dropout on the adapter's input.
    """

    def __init__(self, rank: int = 8, alpha: float = 16.0, targets: list[str] | None = None,
                 dropout: float = 0.0):
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ConfigError(f"lora rank: {rank!r}; expected a whole number of at least 1")
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
            raise ConfigError(f"lora alpha: {alpha!r}; expected a positive number")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ConfigError(f"lora dropout: {dropout!r}; expected a number in [0, 1)")
        targets = ["*"] if targets is None else list(targets)
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise ConfigError(f"lora targets: {targets!r}; expected glob patterns of module "
                              "names")
        self.rank, self.alpha, self.targets = rank, float(alpha), targets
        self.dropout = float(dropout)

    @property
    def config(self) -> dict:
        """Plain data that rebuilds it (stored in checkpoints)."""
        return {"rank": self.rank, "alpha": self.alpha, "targets": list(self.targets),
                "dropout": self.dropout}

    def layers(self, generator: nn.Module) -> list[str]:
        """The names of the layers the patterns choose; ConfigError for a pattern that
        matches no adaptable layer (a typo would adapt nothing)."""
        modules = [(name, module) for name, module in generator.named_modules()
                   if name and isinstance(module, ADAPTABLE)]
        names = [name for name, module in modules if adaptable(module)]
        chosen: set[str] = set()
        skipped: set[str] = set()
        for pattern in self.targets:
            matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
            left = [name for name, module in modules if not adaptable(module)
                    and fnmatch.fnmatchcase(name, pattern)]
            if not matched:
                some = ", ".join(names[:4]) or "none"
                why = (f" ({left[0]}{' and others' * (len(left) > 1)}: a dilated, grouped or "
                       "not zero-padded convolution, which peft's adapters do not fit)"
                       if left else "")
                raise ConfigError(f"lora targets: {pattern!r} matches no linear or convolution "
                                  f"layer of {type(generator).__name__} that an adapter can "
                                  f"sit on{why} (its layers: {some}, ...)")
            chosen.update(matched)
            skipped.update(left)
        if skipped:
            log.info("LoRA: %d dilated, grouped or not zero-padded convolution(s) the targets "
                     "match keep no adapter (e.g. %s)", len(skipped), sorted(skipped)[0])
        return sorted(chosen)

    def added_parameters(self, generator: nn.Module, layers: list[str]) -> int:
        """How many weights the adapters on ``layers`` add: ``rank x (fan-in + fan-out)``
        each (a convolution's fan-in counts its kernel)."""
        count = 0
        for name in layers:
            layer = generator.get_submodule(name)
            weight = layer.weight
            fan_in = weight[0].numel() if weight.dim() > 1 else 1
            count += self.rank * (fan_in + weight.shape[0])
        return count

    def apply(self, generator: nn.Module, memory: int | None = None) -> int:
        """Adds the adapters to ``generator`` in place and leaves only them trainable;
        returns how many layers were adapted. ConfigError, before anything is allocated,
        when the adapters' weights, gradients and Adam moments would exceed ``memory``
        (default: this machine's physical memory)."""
        layers = self.layers(generator)
        added = self.added_parameters(generator, layers)
        memory = physical_memory() if memory is None else memory
        if memory is not None and 16 * added > memory:
            raise ConfigError(f"lora rank {self.rank}: the adapters add {added:,} weights, an "
                              f"estimated {16 * added / 2**30:,.1f} GiB in training (weights, "
                              f"gradients, Adam moments), more than this machine's "
                              f"{memory / 2**30:.1f} GiB: refused before allocating them")
        peft = require("lora")
        config = peft.LoraConfig(r=self.rank, lora_alpha=self.alpha, target_modules=layers,
                                 lora_dropout=self.dropout, bias="none")
        peft.inject_adapter_in_model(config, generator)
        trained = sum(p.numel() for p in generator.parameters() if p.requires_grad)
        total = sum(p.numel() for p in generator.parameters())
        log.info("LoRA rank %d on %d layers: %s of %s weights train", self.rank, len(layers),
                 f"{trained:,}", f"{total:,}")
        return len(layers)


def has_lora(module: nn.Module) -> bool:
    """Whether ``module`` holds LoRA adapters."""
    return any(name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")
               for name, _ in module.named_modules())


def merge_lora(module: nn.Module) -> int:
    """Folds every adapter of ``module`` into its layer's weights and puts the plain layer
    back in the adapter's place (in place); returns how many layers it merged. The network
    computes the same function to float rounding, with no trace of the adapters left."""
    if not has_lora(module):
        return 0
    from peft.tuners.lora import LoraLayer

    adapted = [(name, layer) for name, layer in module.named_modules()
               if isinstance(layer, LoraLayer)]
    for name, layer in adapted:
        layer.merge()
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, child, layer.get_base_layer())
    return len(adapted)
