"""What one training step of a run needs in memory, predicted without running it at full size.

A run's peak memory is its parameters, their gradients and the optimisers' state plus the
activations its passes keep for the backward passes. [`step_memory`][] runs a module's own
training step (both updates of a GAN step, at the run's batch size and precision, with its
checkpointing, freezing and adapters) on random input and reports those figures and the peak
of each phase of the step: the passes before each optimiser's update, each update (Adam's
first update allocates its moments, and its arithmetic holds temporaries the size of the
weights), and the set-up before the first step. [`extrapolate`][] takes the probes, each run
in a fresh process, to the run's size: each phase's peak along its own curve, and the step's
peak the largest of them (where a large model's update outweighs a short probe's
activations, one curve through the step's peaks would be flat and miss the passes' peak at
full size).

The probes run at three shorter lengths (outputs of 1/8, 2/8 and 3/8 of the run's), and each
phase's peak is extrapolated along the parabola through them, or the line through the two
longer ones where that is higher. Convolutions, and attention over a fixed number of bands
or windows, keep activations in proportion to the length; attention over the whole excerpt
that keeps its weights for the backward pass grows with the length's square (torch's plain
attention, which attention dropout forces on the CPU: one time transformer of paper-size
Mel-RoFormer takes 0.34, 0.78, 1.99 and 5.69 GiB over its forward and backward at 1, 2, 4
and 8 s), and a line through short probes misses it (Mel-RoFormer with L1, checkpointed:
24 % under the measured peak from probes at 1 and 2 s).

On the CPU a peak is the process's resident set (what the machine's memory has to hold, the
allocator's slack included; Linux's high-water mark, reset between phases); on a GPU torch's
peak allocation. ``gansep describe --config RUN --memory`` runs the probes
(`gansep.cli.describe.predict_run_memory`); ``--measure`` runs the step at full size, the
figure a prediction is checked against (``bench/generators.py``).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from gansep.errors import ConfigError

#: The shortest probe's output length, as a fraction of the run's (the others: two and three
#: times it).
SHORTEST = 0.125


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
    # the peak of each phase ("set-up", "passes 1", "update 1", "passes 2" ...: the passes
    # before and the update of each optimiser, in the step's order), the largest over the
    # steps; empty where the peak cannot be reset (then ``peak`` alone)
    phases: dict[str, int] = field(default_factory=dict)


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
    phase: str | None = None  # the phase the predicted peak falls in (None: not resolved)

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
    if accelerator == "gpu":
        torch.cuda.reset_peak_memory_stats()
    phases = PhasePeaks(accelerator)
    clock = _recorder(phases)
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, callbacks=[clock],
                         accelerator=accelerator, devices=1, precision=precision)
    trainer.fit(module, loader)
    phases.mark(None)
    peak = max(phases.peaks.values()) if phases.peaks else (
        torch.cuda.max_memory_allocated() if accelerator == "gpu" else peak_rss())
    weights = [*module.parameters(), *module.buffers()]
    trainable = [p for p in module.parameters() if p.requires_grad]
    state = sum(t.numel() * t.element_size() for optimiser in trainer.optimizers
                for slots in optimiser.state.values() for t in slots.values()
                if torch.is_tensor(t))
    return Probe(length=generator.length_value(), peak=peak, baseline=baseline,
                 parameters=sum(t.numel() * t.element_size() for t in weights),
                 gradients=sum(p.numel() * p.element_size() for p in trainable),
                 optimiser=state, trainable=sum(p.numel() for p in trainable),
                 seconds=clock.seconds, phases=phases.peaks)


def reset_peak_rss() -> bool:
    """Sets this process's peak resident set to its resident set now (Linux's
    ``/proc/self/clear_refs``, since 4.0); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PhasePeaks:
    """The peak memory of each phase of training steps: the set-up, the passes before each
    optimiser update, and each update. ``mark`` closes a phase and opens the next; the
    optimisers' own step hooks (``watch``) mark the updates' bounds, so manual optimisation
    counts too."""

    def __init__(self, accelerator: str):
        import torch

        self.gpu = accelerator == "gpu"
        # the set-up's peak so far: building the model (and its weights' loading) included
        built = torch.cuda.max_memory_allocated() if self.gpu else peak_rss()
        self.resettable = self.gpu or reset_peak_rss()
        self.peaks: dict[str, int] = {"set-up": built} if self.resettable else {}
        self.phase: str | None = "set-up"
        self.updates = 0

    def mark(self, phase: str | None) -> None:
        """Closes the current phase (its peak since the last mark) and opens ``phase``."""
        if not self.resettable:
            return
        import torch

        peak = torch.cuda.max_memory_allocated() if self.gpu else peak_rss()
        if self.phase is not None:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), peak)
        if self.gpu:
            torch.cuda.reset_peak_memory_stats()
        else:
            reset_peak_rss()
        self.phase = phase

    def step_starts(self) -> None:
        self.updates = 0
        self.mark("passes 1")

    def watch(self, optimiser) -> None:
        optimiser.register_step_pre_hook(self._before_update)
        optimiser.register_step_post_hook(self._after_update)

    def _before_update(self, optimiser, args, kwargs) -> None:
        self.updates += 1
        self.mark(f"update {self.updates}")

    def _after_update(self, optimiser, args, kwargs) -> None:
        self.mark(f"passes {self.updates + 1}")


def _recorder(phases: PhasePeaks):
    """A Lightning callback that records each training step's wall time and marks the phases
    of ``phases``."""
    import pytorch_lightning as pl

    class Recorder(pl.Callback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_train_start(self, trainer, module):
            for optimiser in trainer.optimizers:
                phases.watch(optimiser)

        def on_train_batch_start(self, *args):
            phases.step_starts()
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args):
            self.seconds.append(time.perf_counter() - self.start)

    return Recorder()


def _through(points: list[tuple[int, int]], at: int) -> int:
    """The value at ``at`` of the polynomial of lowest degree through ``points`` (Lagrange)."""
    value = 0.0
    for i, (x, y) in enumerate(points):
        weight = 1.0
        for j, (other, _) in enumerate(points):
            if j != i:
                weight *= (at - other) / (x - other)
        value += weight * y
    return int(round(value))


def _curve(points: list[tuple[int, int]], at: int) -> int:
    """Two points: their line. Three: the larger of their parabola and the line through the
    last two (a peak that grows faster than the length, as attention weights kept for the
    backward pass do, bends the parabola up; one bent down by the allocator's slack at the
    short probes must not pull the prediction under the longest probes' line)."""
    if len(points) == 2:
        return _through(points, at)
    return max(_through(points, at), _through(points[-2:], at))


def extrapolate(probes: list[Probe], length: int) -> StepMemory:
    """The peak at ``length``: each phase's peak on the curve through the probes' (length,
    peak) (`_curve`), the largest of them (the step's peaks' curve where the probes have no
    phases); with its parts: the fixed ones from the probes, the activations the rest."""
    if len(probes) not in (2, 3) or len({p.length for p in probes}) != len(probes):
        raise ConfigError("a memory prediction needs two or three probes at different lengths")
    probes = sorted(probes, key=lambda p: p.length)
    last = probes[-1]
    phases = [name for name in last.phases if all(name in p.phases for p in probes)]
    if phases:
        curves = {name: _curve([(p.length, p.phases[name]) for p in probes], length)
                  for name in phases}
        phase = max(curves, key=curves.get)
        predicted = curves[phase]
    else:
        phase, predicted = None, _curve([(p.length, p.peak) for p in probes], length)
    fixed = last.baseline + last.parameters + last.gradients + last.optimiser
    return StepMemory(length=length, parameters=last.parameters, gradients=last.gradients,
                      optimiser=last.optimiser, activations=max(predicted - fixed, 0),
                      baseline=last.baseline, predicted=predicted, trainable=last.trainable,
                      probes=list(probes), phase=phase)
