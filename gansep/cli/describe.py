"""``gansep describe --config FILE``: a model's input/output lengths, context and size."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from gansep.errors import ConfigError
from gansep.models import build_generator
from gansep.models.generator import Generator

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep describe", description=__doc__)
    parser.add_argument("--config", type=Path, required=True,
                        help="a generator preset (configs/models/*.yaml) or a run config")
    args = parser.parse_args(argv)
    generator = generator_from_config(args.config)
    sys.stdout.write(describe(generator) + "\n")  # the report, on stdout: it can be piped
    return 0
