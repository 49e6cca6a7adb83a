"""Compiled training steps: ``torch.compile`` of the generator and of each sub-discriminator
separately, in place (``nn.Module.compile``: parameter names, checkpoints, EMA and export are
unchanged). Compiling per sub-network keeps each graph small and sidesteps the Inductor
failure on the whole generator-plus-discriminators graph; the STFT of the spectral families
stays eager (Inductor generates no code for complex operators). Where compiling is unavailable
or fails, the networks run eagerly, with a warning saying why."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Literal

import torch
from torch import nn

from gansep.models.discriminators.base import Discriminator

log = logging.getLogger(__name__)

Compile = Literal["none", "generator", "discriminators", "all"]
#: torch.compile's modes; "reduce-overhead" also captures each compiled network in CUDA graphs
#: (on a GPU; the excerpt and crop shapes are static, so every step replays them).
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
#: torch.compile's backend (tests swap in a failing one to exercise the fallback).
BACKEND = "inductor"


def unavailable(device: torch.device) -> str | None:
    """Why torch.compile cannot run here, or None."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if device.type == "cpu":
        compiler = os.environ.get("CXX", "g++")
        if shutil.which(compiler) is None and shutil.which("c++") is None:
            return f"Inductor needs a C++ compiler on CPU ({compiler} not found)"
    return None


def sub_networks(discriminator: Discriminator) -> list[nn.Module]:
    """Every sub-discriminator (per period, scale, resolution; per source group) of a family
    or of a Combined set."""
    nets = []
    for module in discriminator.modules():
        if isinstance(module, Discriminator) and module.nets is not None:
            nets += [net for group in module.nets for net in group]
    return nets


def compile_networks(which: Compile, generator: nn.Module, discriminator: Discriminator | None,
                     mode: CompileMode = "default") -> list[nn.Module]:
    """Compiles the chosen networks in place; returns them (empty when unavailable)."""
    if which == "none":
        return []
    device = next(generator.parameters()).device
    reason = unavailable(device)
    if reason is not None:
        log.warning("compile=%s: %s; training eagerly", which, reason)
        return []
    modules = [generator] if which in ("generator", "all") else []
    if which in ("discriminators", "all") and discriminator is not None:
        modules += sub_networks(discriminator)
    # Dynamo keeps one cache per code object: every sub-network of a family (one per period,
    # scale, resolution, source group; real+fake and generator-step batches) is a guarded
    # variant of the same forward. Past torch's default limit of 8 it would silently run the
    # rest eagerly, so the limit grows with the networks compiled.
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, 4 * len(modules))
    config.accumulated_recompile_limit = max(config.accumulated_recompile_limit,
                                             16 * len(modules))
    for module in modules:
        # excerpt and crop shapes are static
        module.compile(dynamic=False, backend=BACKEND,
                       mode=None if BACKEND != "inductor" or mode == "default" else mode)
    log.info("compile=%s (mode %s): %d network(s) compiled (on their first step)", which, mode,
             len(modules))
    return modules


def graphs_step_begin(mode: CompileMode, compiled: list) -> None:
    """Tells CUDA-graph trees that a new training step starts, so that the previous step's
    graph outputs may be overwritten (each update consumes its outputs before the next)."""
    if compiled and mode == "reduce-overhead" and torch.cuda.is_available():
        torch.compiler.cudagraph_mark_step_begin()


def uncompile(modules: list[nn.Module]) -> None:
    """Back to eager execution (after a compilation failure)."""
    for module in modules:
        module._compiled_call_impl = None
    torch._dynamo.reset()


def is_compile_failure(error: BaseException) -> bool:
    """Whether ``error`` comes from Dynamo or Inductor rather than from the model."""
    from torch._dynamo.exc import TorchDynamoException

    names = {type(e).__name__ for e in (error, error.__cause__, error.__context__) if e}
    return isinstance(error, TorchDynamoException) or bool(
        names & {"InductorError", "BackendCompilerFailed", "CompilationError"})
