"""Memory of one training step (gansep.training.memory, ``gansep describe --memory``): the
parts counted from the module are exact, the prediction is the line through two probes, and a
run the probes cannot scale is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansep.errors import ConfigError
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


def _probe(length, peak):
    return Probe(length=length, peak=peak, baseline=100, parameters=40, gradients=20,
                 optimiser=40, trainable=5)


def test_the_prediction_is_the_line_through_the_probes():
    memory = extrapolate([_probe(1000, 2000), _probe(2000, 3000)], 8000)
    assert memory.predicted == 9000
    assert memory.activations == 9000 - 200
    assert memory.fits(9000) and not memory.fits(8999)
    with pytest.raises(ConfigError, match="two probes at different lengths"):
        extrapolate([_probe(1000, 2000), _probe(1000, 2100)], 8000)


@pytest.mark.parametrize("preset", ["m4", "demo", "demo-htdemucs", "demo-roformer"])
def test_probe_lengths_are_two_shorter_valid_lengths(preset):
    from gansep.cli.describe import generator_from_config, run_generator_length

    argument, full, (short, longer) = run_generator_length(
        [ROOT / "configs/gan.yaml"], ["--model.init_args.generator",
                                      str(ROOT / f"configs/models/{preset}.yaml")])
    generator = generator_from_config(ROOT / f"configs/models/{preset}.yaml")
    assert argument == generator.length_argument and full == generator.length_value()
    assert short < longer < full
    for length in (short, longer):
        assert generator.valid_length(length) == length


def test_probes_start_at_the_discriminators_crop():
    from gansep.cli.describe import run_generator_length

    run = [ROOT / "configs/gan.yaml"], ["--model.init_args.generator",
                                        str(ROOT / "configs/models/demo-roformer.yaml")]
    _, full, plain = run_generator_length(*run)
    crop = plain[1] + 1000
    _, _, cropped = run_generator_length(run[0], run[1] + [
        "--model.init_args.objective.init_args.adversarial.init_args.crop_length", str(crop)])
    assert crop <= cropped[0] < cropped[1] < full


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
