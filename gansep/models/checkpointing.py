"""Activation checkpointing: a block's activations are recomputed in the backward pass instead
of kept from the forward pass (``torch.utils.checkpoint``, non-reentrant), trading compute for
memory. Gradients are those of the unchecked network (tested to 1e-5 relative).

`checkpoint_blocks` patches the ``forward`` of each given module in place (its parameters and
state-dict keys unchanged, so weights load and export as before), as a method bound to the
module, so that copies (the EMA copy) checkpoint themselves. Without gradients (inference,
validation) a block runs as it is."""

from __future__ import annotations

import types
from typing import Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def _checkpointed_forward(self, *args, **kwargs):
    forward = type(self).forward
    if torch.is_grad_enabled():
        return checkpoint(forward, self, *args, use_reentrant=False, **kwargs)
    return forward(self, *args, **kwargs)


def checkpoint_blocks(blocks: Iterable[nn.Module]) -> int:
    """Makes every module of ``blocks`` recompute its activations in the backward pass;
    returns how many it patched (a module patched before counts once)."""
    count = 0
    for block in blocks:
        if "forward" not in vars(block):
            block.forward = types.MethodType(_checkpointed_forward, block)
        count += 1
    return count


def is_checkpointed(module: nn.Module) -> bool:
    """Whether any submodule of ``module`` recomputes its activations."""
    return any("forward" in vars(m) and getattr(vars(m)["forward"], "__func__", None)
               is _checkpointed_forward for m in module.modules())
