"""``gansep describe --config FILE``: a model's input/output lengths, context and size; with
``--memory``, what one training step of a run config needs in memory (predicted from three
short probes, phase by phase, `gansep.training.memory`), and with ``--measure`` what it takes
at full size."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from gansep.errors import ConfigError
from gansep.models import build_generator
from gansep.models.generator import Generator
from gansep.training.memory import SHORTEST, Probe, StepMemory, extrapolate, peak_rss, step_memory

log = logging.getLogger(__name__)


def generator_spec(config: Path) -> dict:
    """The generator's ``class_path``/``init_args`` from a generator preset or a run config
    (``model.init_args.generator``, inline or as a path relative to the config file)."""
    try:
        data = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {config}: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{config}: not a text (UTF-8) configuration file; expected YAML"
                          ) from None
    spec, base = data, config.parent
    if isinstance(data, dict) and "model" in data:
        spec = (data["model"] or {}).get("init_args", {}).get("generator")
    if isinstance(spec, str):
        path = (base / spec) if not Path(spec).is_absolute() else Path(spec)
        return generator_spec(path)
    if not isinstance(spec, dict) or "class_path" not in spec:
        raise ConfigError(f"{config} holds neither a generator (class_path, "
                         "init_args) nor a run config with model.init_args.generator")
    return spec


def _is_run_config(config: Path) -> bool:
    try:
        data = yaml.safe_load(Path(config).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {config}: {error}") from None
    return isinstance(data, dict) and "model" in data


def generator_from_config(config: Path) -> Generator:
    """The generator of a generator preset or run config (see `generator_spec`)."""
    spec = generator_spec(Path(config))
    return build_generator(spec["class_path"], spec.get("init_args") or {})


def describe(generator: WaveUNet) -> str:
    g = generator.geometry
    rate = generator.sample_rate
    params = sum(p.numel() for p in generator.parameters())
    size_mb = sum(p.numel() * p.element_size() for p in generator.parameters()) / 2**20
    rows = [
        ("sources", ", ".join(generator.sources)),
        ("channels", str(generator.channels)),
        ("sample rate", f"{rate} Hz"),
        ("input length", f"{g.input_length} samples ({g.input_length / rate:.4f} s)"),
        ("output length", f"{g.output_length} samples ({g.output_length / rate:.4f} s)"),
        ("context", f"{g.context_left} samples left ({g.context_left / rate:.4f} s), "
                    f"{g.context_right} right ({g.context_right / rate:.4f} s)"),
        ("parameters", f"{params:,}"),
        ("size", f"{size_mb:.2f} MB (float32)"),
    ]
    activations = generator.activation_bytes()
    if activations is not None:
        rows.append(("activations", f"{activations / 2**20:.1f} MiB per training example "
                                    "(float32, estimated)"))
    # A subclass adds its own rows (the lyrics head: its block and frame rate; an adapter:
    # the class it wraps).
    rows += generator.description_rows()
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _probe_here(request: dict) -> Probe:
    """One memory probe in this process (the entry of `probe_run`'s fresh process)."""
    import gansep.cli.lightning  # noqa: F401  (imported before the baseline is read)
    from gansep.cli.runconfig import read_cli

    baseline = peak_rss() if request["accelerator"] == "cpu" else 0
    cli = read_cli([Path(c) for c in request["configs"]],
                   list(request["overrides"]) + list(request["probe"]))
    return step_memory(cli.model, cli.datamodule.batch_size, cli.config.trainer.precision,
                       request["steps"], request["accelerator"], baseline)


def probe_run(configs: list[Path], overrides: list[str], probe: list[str] = (),
              what: str = "the memory probe of the run", steps: int = 2,
              accelerator: str = "cpu", timeout: float | None = None) -> Probe:
    """The run's training step with the ``probe`` overrides on top of its own (none: the
    run as it is), in a fresh process, so that the peak is the step's own."""
    request = {"configs": [str(Path(c).resolve()) for c in configs],
               "overrides": list(overrides), "probe": list(probe), "steps": steps,
               "accelerator": accelerator}
    command = [sys.executable, "-m", "gansep.cli.main", "describe", "--probe",
               json.dumps(request)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, PYTHONWARNINGS="ignore"))
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} ran past {timeout:.0f} s") from None
    if done.returncode == -9:
        raise ConfigError(f"{what} was killed (SIGKILL: out of memory)")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ConfigError(f"{what} failed (exit {done.returncode}): "
                          f"{_last_error(done.stderr)}")
    return Probe(**json.loads(lines[-1]))


def _last_error(stderr: str) -> str:
    """The last ``SomeError: message`` line of a failed process's output (else its last
    line), cut to 200 characters."""
    lines = stderr.strip().splitlines() or ["no message"]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    return (errors or lines)[-1].strip()[:200]


def run_generator_length(configs: list[Path], overrides: list[str]) -> tuple[str, int, list[int]]:
    """The name of the run's generator length argument, its value, and the three shorter
    values the probes run at (two where no third valid length lies between): outputs of 1/8
    (`SHORTEST`) of the run's, and twice and three times that; but no shorter than the crop
    the discriminators judge (below it the discriminators see the whole excerpt, above it
    one crop of fixed length: only lengths above it lie on the curve that reaches the
    run's), and where three times the crop is not shorter than the run's excerpt, the crop
    and two lengths evenly between it and the run's."""
    from gansep.cli.runconfig import read_cli

    model = read_cli(configs, overrides).model
    generator = model.generator
    try:
        full = generator.length_value()
    except KeyError:
        raise ConfigError(f"{type(generator).__name__} has no {generator.length_argument!r} "
                          "argument: its training excerpt's length cannot be scaled") from None
    output = generator.geometry.output_length
    crop = getattr(getattr(model.objective, "adversarial", None), "crop_length", None)
    crop = crop if crop is not None and crop < output else 0
    short = generator.valid_length(max(round(output * SHORTEST), crop))
    first = generator.geometry_for(short).output_length
    step = first if 3 * first < output else (output - first) // 3
    # A network whose valid lengths lie far apart (Wave-U-Net: M4's outputs step by 8192)
    # may have two of them below the run's: then two probes, and their line.
    lengths = sorted({n for n in [short] + [generator.valid_length(first + k * step)
                                             for k in (1, 2)] if n < full})
    if len(lengths) < 2:
        raise ConfigError(f"{generator.length_argument} {full}: too short to probe at two "
                          "shorter lengths" + (f" above the crop of {crop}" if crop else ""))
    return generator.length_argument, full, lengths


def predict_run_memory(configs: list[Path], overrides: list[str] = (), steps: int = 2,
                       accelerator: str = "cpu") -> StepMemory:
    """The peak memory of the run's training step, extrapolated from three probes at shorter
    lengths (`run_generator_length`; `gansep.training.memory`)."""
    configs, overrides = list(configs), list(overrides)
    argument, full, lengths = run_generator_length(configs, overrides)
    key = f"--model.init_args.generator.init_args.{argument}"
    probes = [probe_run(configs, overrides, [key, str(n)], f"the memory probe at {argument} {n}",
                        steps, accelerator) for n in lengths]
    return extrapolate(probes, full)


def measure_run_memory(configs: list[Path], overrides: list[str] = (), steps: int = 2,
                       accelerator: str = "cpu", timeout: float | None = None) -> Probe:
    """The run's training step at its own size, in a fresh process: the measured peak."""
    return probe_run(configs, list(overrides), steps=steps, accelerator=accelerator,
                     timeout=timeout)


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size < 10 * 2**30 else f"{size / 2**30:.2f} GiB"


def measured_line(memory: StepMemory, measured: Probe) -> str:
    """``describe --measure``'s row: the measured peak and the prediction's error."""
    error = (memory.predicted - measured.peak) / measured.peak
    steps = ", ".join(f"{t:.2f}" for t in measured.seconds)
    return f"{_mib(measured.peak)} (prediction {error:+.1%}); steps {steps} s"


def describe_memory(memory: StepMemory, limit: int | None,
                    measured: Probe | None = None) -> str:
    """``describe --memory``'s rows."""
    values = ", ".join(str(p.length) for p in memory.probes)
    rows = [
        ("weights", f"{_mib(memory.parameters)} ({memory.trainable:,} trainable)"),
        ("gradients", _mib(memory.gradients)),
        ("optimiser state", _mib(memory.optimiser)),
        ("activations", f"{_mib(memory.activations)} (the rest of the peak: what the passes keep, "
                         "the trainer, the allocator's slack)"),
        ("process", f"{_mib(memory.baseline)} (Python, torch, Lightning, gansep: before the "
                     "model)"),
        ("predicted peak", f"{_mib(memory.predicted)} (extrapolated to {memory.length} from "
                           f"probes at {values}"
                           + (f"; in the step's {memory.phase}" if memory.phase else "") + ")"),
    ]
    if limit is not None:
        verdict = "fits in" if memory.fits(limit) else "does NOT fit in"
        rows.append(("memory", f"{verdict} {limit / 2**30:.1f} GiB"))
    if measured is not None:
        rows.append(("measured peak", measured_line(memory, measured)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep describe", description=__doc__)
    parser.add_argument("--config", type=Path, action="append",
                        help="a generator preset (configs/models/*.yaml) or a run config "
                             "(repeatable with --memory, merged in order as by gansep fit; "
                             "any other --key value is a LightningCLI key of that run)")
    parser.add_argument("--memory", action="store_true",
                        help="predict the peak memory of one training step of the run "
                             "config at its batch size, length and precision (three short "
                             "probes, each a fresh process)")
    parser.add_argument("--measure", action="store_true",
                        help="with --memory: also run the step at full size and report its "
                             "measured peak")
    parser.add_argument("--memory-gib", type=float,
                        help="say whether the predicted peak fits in this many GiB "
                             "(default: this machine's physical memory)")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"],
                        help="where the probes run: cpu (peak resident set) or gpu (peak "
                             "allocation)")
    parser.add_argument("--steps", type=int, default=2, help="training steps per probe")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args, overrides = parser.parse_known_args(argv)
    if args.probe is not None:
        sys.stdout.write(json.dumps(asdict(_probe_here(json.loads(args.probe)))) + "\n")
        return 0
    if not args.config:
        parser.error("the following arguments are required: --config")
    if overrides and not args.memory:
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    if args.steps < 1:
        raise ConfigError(f"--steps {args.steps}: expected at least 1")
    if args.memory_gib is not None and not args.memory_gib > 0:
        raise ConfigError(f"--memory-gib {args.memory_gib}: expected a positive number of GiB")
    if len(args.config) > 1 and not args.memory:
        parser.error("several --config are merged for --memory only")
    if args.memory:
        from gansep.cli.runconfig import read_cli

        if not any(_is_run_config(path) for path in args.config):
            raise ConfigError(f"{args.config[0]}: --memory needs a run config (with model:, "
                              "as gansep fit takes); this is a generator preset")
        generator = read_cli(args.config, overrides).model.generator
    else:
        generator = generator_from_config(args.config[0])
    sys.stdout.write(describe(generator) + "\n")  # the report, on stdout: it can be piped
    del generator
    if args.memory:
        from gansep.devices import physical_memory

        limit = (int(args.memory_gib * 2**30) if args.memory_gib is not None
                 else physical_memory())
        memory = predict_run_memory(args.config, overrides, args.steps, args.accelerator)
        sys.stdout.write(describe_memory(memory, limit) + "\n")
        if args.measure:
            machine = physical_memory()
            if machine is not None and not memory.fits(machine):
                raise ConfigError(f"--measure: not run, the predicted peak "
                                  f"{memory.predicted / 2**30:.1f} GiB exceeds this machine's "
                                  f"{machine / 2**30:.1f} GiB")
            measured = measure_run_memory(args.config, overrides, args.steps, args.accelerator)
            width = len("optimiser state")  # the first block's column
            sys.stdout.write(f"{'measured peak':<{width}}  {measured_line(memory, measured)}\n")
    return 0
