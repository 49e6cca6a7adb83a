"""GPU speed-ups as one Lightning callback, for any gansep training module (``Separator``,
``GANSeparator``): ``torch.compile`` (`gansep.training.compiled`), CUDA-graph replay
(`gansep.training.graphs`) and channels-last convolutions (`gansep.training.layout`).
The values computed are those of eager training; where a speed-up is unavailable (no GPU, no
compiler) or fails, training goes on eagerly with a warning saying why.

In a run config::

    trainer:
      callbacks:
        - class_path: gansep.training.SpeedUps
          init_args: {cuda_graphs: all, channels_last: all}
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl

from gansep.errors import ConfigError
from gansep.training.compiled import (Compile, CompileMode, compile_networks, graphs_step_begin,
                                      is_compile_failure, uncompile)
from gansep.training.graphs import CudaGraphs, GraphedDiscriminator, GraphedGenerator
from gansep.training.graphs import unavailable as graphs_unavailable
from gansep.training.layout import Layout, to_channels_last

log = logging.getLogger(__name__)


def _discriminator(module: pl.LightningModule):
    adversarial = getattr(getattr(module, "objective", None), "adversarial", None)
    return adversarial.discriminator if adversarial is not None else None


class SpeedUps(pl.Callback):
    """Speeds up training on a GPU without changing what it computes.

    Args:
        compile: ``torch.compile`` the ``generator``, the ``discriminators`` (each sub-network
            apart, STFTs eager) or ``all`` of them when training starts; where it is
            unavailable or fails, training goes on eagerly with a warning.
        compile_mode: torch.compile's mode; ``reduce-overhead`` captures the compiled networks
            in CUDA graphs on a GPU (the step's shapes are static).
        cuda_graphs: without compiling, record the forward and backward passes of the
            ``discriminators`` (or of ``all`` networks: the generator too) as CUDA graphs on
            their first step and replay them after; on a CPU, training goes on eagerly with a
            warning. Not combined with ``compile``.
        channels_last: store the convolutions of the ``discriminators`` (or of ``all``
            networks) channels-last, so that cuDNN's NHWC kernels need no transposes.
    """

    def __init__(self, compile: Compile = "none", compile_mode: CompileMode = "default",
                 cuda_graphs: CudaGraphs = "none", channels_last: Layout = "none"):
        for name, value, choices in (("compile", compile, Compile),
                                     ("compile_mode", compile_mode, CompileMode),
                                     ("cuda_graphs", cuda_graphs, CudaGraphs),
                                     ("channels_last", channels_last, Layout)):
            if value not in choices.__args__:
                raise ConfigError(f"SpeedUps: {name} must be one of "
                                  f"{', '.join(choices.__args__)}, got {value!r}")
        if cuda_graphs != "none" and compile != "none":
            raise ConfigError("SpeedUps: choose compile or cuda_graphs, not both (compile's "
                              "mode reduce-overhead captures the compiled networks itself)")
        self.compile, self.compile_mode = compile, compile_mode
        self.cuda_graphs, self.channels_last = cuda_graphs, channels_last
        self._compiled: list = []
        self._step = None  # the module's own training_step, while wrapped

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        discriminator = _discriminator(module)
        self._compiled = compile_networks(self.compile, module.generator, discriminator,
                                          self.compile_mode)
        if self._compiled:
            self._wrap_training_step(module)
        if self.channels_last != "none":
            networks = [module.generator] if self.channels_last == "all" else []
            networks += [discriminator] if discriminator is not None else []
            count = sum(to_channels_last(network) for network in networks)
            log.info("channels_last=%s: %d convolutions", self.channels_last, count)
        self._install_graphs(module, discriminator)

    def _install_graphs(self, module: pl.LightningModule, discriminator) -> None:
        if self.cuda_graphs == "none":
            return
        reason = graphs_unavailable(next(module.generator.parameters()).device)
        if reason is not None:
            log.warning("cuda_graphs=%s: %s; training eagerly", self.cuda_graphs, reason)
            return
        if discriminator is not None:
            module.graphed_discriminator = GraphedDiscriminator(discriminator,
                                                                "the discriminators")
        if self.cuda_graphs == "all":
            module.graphed_generator = GraphedGenerator(module.generator, "the generator")

    def _wrap_training_step(self, module: pl.LightningModule) -> None:
        """Compilation happens on a network's first call, before any optimiser step: a step
        that fails to compile is run again eagerly."""
        self._step = step = module.training_step

        def training_step(batch, batch_idx):
            if not self._compiled:
                return step(batch, batch_idx)
            try:
                return step(batch, batch_idx)
            except Exception as error:  # noqa: BLE001 - only compiler failures are caught
                if not is_compile_failure(error):
                    raise
                log.warning("compile=%s failed (%s: %s); training eagerly", self.compile,
                            type(error).__name__, str(error).splitlines()[0][:200])
                uncompile(self._compiled)
                self._compiled = []
                return step(batch, batch_idx)

        module.training_step = training_step

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        graphs_step_begin(self.compile_mode, self._compiled)

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # The graphs hold GPU memory; a later fit (or a test) captures anew.
        module.graphed_discriminator = module.graphed_generator = None
        if self._step is not None:
            del module.training_step  # the class's own again
            self._step = None
