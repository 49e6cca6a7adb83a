"""What one training step of a run needs in memory, predicted without running it at full size.

A run's peak memory is its parameters, their gradients and the optimisers' state (all exact,
independent of the excerpt length) plus the activations its passes keep for the backward
passes, which grow with the excerpt's length. [`step_memory`][] runs a module's own training
step (both updates of a GAN step, at the run's batch size and precision, with its
checkpointing, freezing and adapters) on random input and reports those figures and the peak;
[`extrapolate`][] takes two such probes at short excerpt lengths, each run in a fresh process,
to the run's length, linearly: convolutions, and attention over a fixed number of bands or
fixed windows, keep activations in proportion to the length. On the CPU the peak is the
process's resident set (what the machine's memory has to hold, the allocator's slack
included); on a GPU torch's peak allocation. ``gansep describe --config RUN --memory`` runs the
probes (`gansep.cli.describe.predict_run_memory`); ``--measure`` runs the step at full size,
the figure a prediction is checked against (``bench/generators.py``).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from gansep.errors import ConfigError

#: The excerpt lengths of the two probes, as fractions of the run's.
FRACTIONS = (0.125, 0.25)


@dataclass
class Probe:
    """One training step's figures at one excerpt length (bytes; seconds)."""

    length: int  # the generator's length argument (output or segment length, samples)
    peak: int  # peak resident set (CPU) or peak allocation (GPU) over the steps
    baseline: int  # the same before the model was built (imports; 0 on a GPU)
    parameters: int  # every weight and buffer of the generator and discriminators
    gradients: int  # the gradients of the trainable weights
    optimiser: int  # the optimisers' state after the steps
    trainable: int  # trainable weights (count)
    seconds: list[float] = field(default_factory=list)  # each step's wall time


@dataclass
class StepMemory:
    """A predicted peak and its parts (bytes)."""

    length: int  # the run's length argument
    parameters: int
    gradients: int
    optimiser: int
    activations: int  # the rest of the predicted peak: what the passes keep, and slack
    baseline: int  # the process before the model (Python, torch, gansep)
    predicted: int
    trainable: int
    probes: list[Probe]

    def fits(self, memory: int) -> bool:
        return self.predicted <= memory


def peak_rss() -> int:
    """This process's peak resident set so far, in bytes: Linux's ``VmHWM``, the high-water
    mark of this program's own memory. (``ru_maxrss`` is not: it keeps the parent's resident
    set at the fork that started this process, so a probe started by a process holding a
    model would report the parent's size.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB elsewhere


def step_memory(module, batch_size: int, precision, steps: int = 2, accelerator: str = "cpu",
                baseline: int = 0) -> Probe:
    """Runs ``steps`` training steps of ``module`` (a Separator or GANSeparator; a GAN's
    warm-up is skipped, so that every step is adversarial) on random input of its generator's
    lengths under a Lightning Trainer, and returns the figures. The peak on the CPU is this
    process's peak resident set: meant for a fresh process, ``baseline`` its peak before the
    module was built."""
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from gansep.data.sampling import collate_excerpts

    if hasattr(module, "warmup_steps"):
        module.warmup_steps = 0  # the adversarial step is the one with the larger peak
    generator = module.generator
    g = generator.geometry
    torch.manual_seed(0)
    count = batch_size * steps
    mixture = torch.randn(count, generator.channels, g.input_length) * 0.1
    sources = torch.randn(count, len(generator.sources), generator.channels,
                          g.output_length) * 0.1
    loader = DataLoader(TensorDataset(mixture, sources), batch_size=batch_size,
                        collate_fn=collate_excerpts)
    clock = _clock()
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, callbacks=[clock],
                         accelerator=accelerator, devices=1, precision=precision)
    if accelerator == "gpu":
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, loader)
    peak = torch.cuda.max_memory_allocated() if accelerator == "gpu" else peak_rss()
    weights = [*module.parameters(), *module.buffers()]
    trainable = [p for p in module.parameters() if p.requires_grad]
    state = sum(t.numel() * t.element_size() for optimiser in trainer.optimizers
                for slots in optimiser.state.values() for t in slots.values()
                if torch.is_tensor(t))
    return Probe(length=generator.length_value(), peak=peak, baseline=baseline,
                 parameters=sum(t.numel() * t.element_size() for t in weights),
                 gradients=sum(p.numel() * p.element_size() for p in trainable),
                 optimiser=state, trainable=sum(p.numel() for p in trainable),
                 seconds=clock.seconds)


def _clock():
    """A Lightning callback that records each training step's wall time."""
    import pytorch_lightning as pl

    class Clock(pl.Callback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_train_batch_start(self, *args):
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args):
            self.seconds.append(time.perf_counter() - self.start)

    return Clock()


def extrapolate(probes: list[Probe], length: int) -> StepMemory:
    """The peak at ``length`` on the line through two probes' (length, peak), with its
    parts: the fixed ones from the probes, the activations the rest."""
    if len(probes) != 2 or probes[0].length == probes[1].length:
        raise ConfigError("a memory prediction needs two probes at different lengths")
    (n1, p1), (n2, p2) = [(p.length, p.peak) for p in probes]
    predicted = int(round(p1 + (p2 - p1) * (length - n1) / (n2 - n1)))
    last = probes[-1]
    fixed = last.baseline + last.parameters + last.gradients + last.optimiser
    return StepMemory(length=length, parameters=last.parameters, gradients=last.gradients,
                      optimiser=last.optimiser, activations=max(predicted - fixed, 0),
                      baseline=last.baseline, predicted=predicted, trainable=last.trainable,
                      probes=list(probes))
