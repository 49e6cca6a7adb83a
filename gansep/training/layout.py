"""Channels-last memory layout for convolution networks.

On a GPU, cuDNN's fast bf16/fp16 convolutions work on channels-last (NHWC) data. Given the
default (NCHW) layout, it transposes every activation in and every result out: in the profile
of an adversarial M4 step on an H100 those transposes were 23 % of the GPU time. Here every
convolution's weights are stored channels-last and its input is brought to channels-last
where it is not already, so consecutive convolutions hand each other NHWC data with no
transposes.

A 1-D activation ``(batch, channels, time)`` is channels-last when its channels are adjacent
in memory (strides ``(time * channels, 1, channels)``): PyTorch runs 1-D convolutions as 2-D
ones on ``(batch, channels, 1, time)``, which that layout makes NHWC. Values are unchanged;
only strides differ.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

#: which networks of a GANSeparator are laid out channels-last
Layout = Literal["none", "discriminators", "all"]


def channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` (3-D or 4-D) with its channels (dimension 1) innermost in memory."""
    if tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    if tensor.dim() == 3 and not is_channels_last(tensor):
        return tensor.transpose(1, 2).contiguous().transpose(1, 2)
    return tensor


def is_channels_last(tensor: torch.Tensor) -> bool:
    """Whether a 3-D or 4-D tensor is channels-last (as the 2-D convolution sees it: strides
    of size-1 dimensions do not count)."""
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(2)
    return tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last)


def _input_channels_last(module: nn.Module, args: tuple):
    x = args[0]
    if isinstance(x, torch.Tensor) and x.dim() in (3, 4) and not is_channels_last(x):
        return (channels_last(x),) + tuple(args[1:])
    return None


def to_channels_last(network: nn.Module) -> int:
    """Stores every convolution's weights of ``network`` channels-last (the originals of
    weight or spectral norm included) and makes each convolution take channels-last input.
    Call before the first optimiser step (optimiser moments then take the same layout).
    Returns how many convolutions were converted."""
    count = 0
    for module in network.modules():
        if not isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d)):
            continue
        if getattr(module, "_gansep_channels_last", False):
            continue
        parametrizations = getattr(module, "parametrizations", None)
        tensors = (list(parametrizations.weight.parameters()) if parametrizations is not None
                   and "weight" in parametrizations else [module.weight])
        for parameter in tensors:
            if parameter.dim() in (3, 4):
                parameter.data = channels_last(parameter.data)
        module.register_forward_pre_hook(_input_channels_last)
        module._gansep_channels_last = True
        count += 1
    return count
