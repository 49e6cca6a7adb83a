"""Memory of one training step (gansep.training.memory, ``gansep describe --memory``): the
parts counted from the module are exact, the prediction is each phase's curve through the
probes, and a run the probes cannot scale is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansep.errors import ConfigError
from gansep.losses import GAN, L1, Objective
from gansep.models.discriminators import MultiPeriod
from gansep.models.lora import LoRA
from gansep.training import GANSeparator, Separator
from gansep.training.memory import Probe, extrapolate, peak_rss, step_memory
from tests.conftest import tiny_generator

ROOT = Path(__file__).resolve().parents[2]


def _bytes(parameters) -> int:
    return sum(p.numel() * p.element_size() for p in parameters)


def test_the_parts_are_the_modules_own():
    torch.manual_seed(0)
    module = GANSeparator(tiny_generator(), freeze=["down.*"])
    trainable = [p for p in module.parameters() if p.requires_grad]
    probe = step_memory(module, batch_size=2, precision="32-true", steps=2, baseline=123)
    assert probe.length == module.generator.config["output_length"]
    assert probe.trainable == sum(p.numel() for p in trainable) < sum(
        p.numel() for p in module.parameters())
    assert probe.gradients == _bytes(trainable)
    # Adam keeps two moments per trainable weight (and a step count per tensor).
    assert 2 * _bytes(trainable) <= probe.optimiser <= 2 * _bytes(trainable) + 8 * len(trainable)
    assert probe.parameters == _bytes(module.parameters()) + _bytes(module.buffers())
    assert probe.peak > 0 and probe.baseline == 123 and len(probe.seconds) == 2
    if Path("/proc/self/clear_refs").exists():
        # the set-up, each optimiser's passes and update in the step's order, and the tail
        assert list(probe.phases) == ["set-up", "passes 1", "update 1", "passes 2"]
        assert probe.peak == max(probe.phases.values())


def test_a_gan_steps_phases_are_both_updates():
    torch.manual_seed(0)
    module = GANSeparator(tiny_generator(), Objective([L1()], GAN(MultiPeriod(
        periods=[2], channels=[4]))))
    probe = step_memory(module, batch_size=1, precision="32-true", steps=1)
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("the peak resident set cannot be reset here (Linux's clear_refs)")
    # the discriminators' update, then the generator's
    assert list(probe.phases) == ["set-up", "passes 1", "update 1", "passes 2", "update 2",
                                  "passes 3"]


def test_adapters_shrink_the_trained_parts():
    torch.manual_seed(0)
    plain = step_memory(Separator(tiny_generator()), 1, "32-true", steps=1)
    adapted = step_memory(Separator(tiny_generator(), lora=LoRA(rank=2)), 1, "32-true", steps=1)
    assert adapted.trainable < plain.trainable / 2
    assert adapted.optimiser < plain.optimiser / 2 and adapted.gradients < plain.gradients / 2


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc needed")
def test_a_probe_process_reports_its_own_peak_not_its_parents():
    # ru_maxrss would report the parent's resident set at the fork that started the probe.
    import subprocess
    import sys

    held = torch.ones(100_000_000, dtype=torch.uint8) + 1  # noqa: F841  (100 MB held here)
    child = int(subprocess.run([sys.executable, "-c", "from gansep.training.memory import "
                                "peak_rss; print(peak_rss())"], capture_output=True, text=True,
                               check=True).stdout)
    assert child < peak_rss() - 100 * 2**20


def _probe(length, peak, phases=None):
    return Probe(length=length, peak=peak, baseline=100, parameters=40, gradients=20,
                 optimiser=40, trainable=5, phases=phases or {})


def test_the_prediction_is_the_line_through_the_probes():
    memory = extrapolate([_probe(1000, 2000), _probe(2000, 3000)], 8000)
    assert memory.predicted == 9000
    assert memory.activations == 9000 - 200
    assert memory.fits(9000) and not memory.fits(8999)
    with pytest.raises(ConfigError, match="two or three probes at different lengths"):
        extrapolate([_probe(1000, 2000), _probe(1000, 2100)], 8000)


def test_three_probes_follow_a_peak_that_grows_faster_than_the_length():
    # attention weights kept for the backward pass: a + b n + c n^2
    def peak(n):
        return 1000 + 2 * n + n * n // 1000

    probes = [_probe(n, peak(n), {"passes 1": peak(n)}) for n in (1000, 2000, 3000)]
    assert extrapolate(probes, 8000).predicted == peak(8000)
    assert extrapolate(probes[:2], 8000).predicted < peak(8000)  # a line misses it
    # a curve bent down (the allocator's slack at the shortest probe) does not pull the
    # prediction under the line through the two longer probes
    bent = [_probe(1000, 1500, {"passes 1": 1500}), _probe(2000, 2000, {"passes 1": 2000}),
            _probe(3000, 2400, {"passes 1": 2400})]
    assert extrapolate(bent, 8000).predicted == 2400 + 400 * 5
    # given in any order
    assert extrapolate(probes[::-1], 8000).predicted == peak(8000)


def test_each_phase_has_its_line_and_the_largest_is_the_peak():
    # A large model's update (its moments, its temporaries) outweighs the short probes'
    # activations: both probes peak in the update, and the peaks' line is flat. The passes'
    # line, growing, is the peak at full length.
    probes = [_probe(1000, 5000, {"set-up": 3000, "passes 1": 4000, "update 1": 5000}),
              _probe(2000, 5000, {"set-up": 3000, "passes 1": 4500, "update 1": 5000})]
    memory = extrapolate(probes, 8000)
    assert memory.predicted == 4000 + 500 * 7 and memory.phase == "passes 1"
    # at a length where the update still outweighs the passes, the update is the peak
    memory = extrapolate(probes, 2500)
    assert memory.predicted == 5000 and memory.phase == "update 1"


@pytest.mark.parametrize("preset", ["m4", "demo", "demo-htdemucs", "demo-roformer"])
def test_probe_lengths_are_three_shorter_valid_lengths(preset):
    from gansep.cli.describe import generator_from_config, run_generator_length

    argument, full, lengths = run_generator_length(
        [ROOT / "configs/gan.yaml"], ["--model.init_args.generator",
                                      str(ROOT / f"configs/models/{preset}.yaml")])
    generator = generator_from_config(ROOT / f"configs/models/{preset}.yaml")
    assert argument == generator.length_argument and full == generator.length_value()
    assert lengths == sorted(set(lengths)) and lengths[-1] < full
    for length in lengths:
        assert generator.valid_length(length) == length
    if preset == "m4":  # its valid outputs step by 8192: two below its 16384
        assert lengths == [4101, 12293]
        return
    # outputs of about 1/8, 2/8 and 3/8 of the run's
    outputs = [generator.geometry_for(n).output_length for n in lengths]
    output = generator.geometry.output_length
    assert len(outputs) == 3
    for share, out in zip((1, 2, 3), outputs):
        assert abs(out / output - share / 8) < 0.05


def test_probes_start_at_the_discriminators_crop():
    from gansep.cli.describe import run_generator_length

    run = [ROOT / "configs/gan.yaml"], ["--model.init_args.generator",
                                        str(ROOT / "configs/models/demo-roformer.yaml")]
    _, full, plain = run_generator_length(*run)
    for crop in (plain[0] + 1000, plain[2] + 1000):  # three times it shorter, or not
        _, _, cropped = run_generator_length(run[0], run[1] + [
            "--model.init_args.objective.init_args.adversarial.init_args.crop_length",
            str(crop)])
        assert crop <= cropped[0] < cropped[1] < cropped[2] < full


def test_describe_memory_refuses_a_generator_preset_in_one_line(cli):
    done = cli(["describe", "--config", "configs/models/demo.yaml", "--memory"], ROOT,
               check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--memory needs a run config" in done.stderr


@pytest.mark.slow
def test_describe_memory_predicts_and_measures_the_demo_run(cli):
    done = cli(["describe", "--config", "configs/demo.yaml", "--memory", "--measure",
                "--steps", "1", "--memory-gib", "0.1", "--data.batch_size", "2"], ROOT)
    rows = dict(line.split(None, 1) if not line.startswith(("predicted", "measured",
                                                               "optimiser"))
                else (" ".join(line.split()[:2]), line.split(None, 2)[2])
                for line in done.stdout.splitlines())
    assert "does NOT fit in 0.1 GiB" in rows["memory"]
    predicted = float(rows["predicted peak"].split()[0].replace(",", ""))
    measured = float(rows["measured peak"].split()[0].replace(",", ""))
    assert abs(predicted - measured) / measured < 0.25
