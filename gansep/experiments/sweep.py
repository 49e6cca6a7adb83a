"""Sweeps: run a wandb-format sweep locally and offline (``gansep sweep`` is its command).

The file is wandb's sweep YAML: ``method`` (grid or random), ``parameters`` whose names are
LightningCLI keys (``values``, ``value``, or a ``distribution`` with bounds), and a ``command``
whose ``${args}`` become ``--key=value`` pairs, as ``wandb agent`` passes them. Each run gets
its own folder under ``--runs-dir`` (named from its parameters) holding ``params.json``, the
resolved ``config.yaml``, logs, checkpoints, ``results/`` (gansep evaluate on the test split)
``run.json`` (its command and the SHA-256 of every file the command names) and
``status.json``. A run that fails is recorded as failed and the sweep goes on; running the
command again skips finished runs (failed ones are tried again). A run folder whose
``run.json`` differs from the run's (another base config, an edited objective file, another
command) is refused before anything runs: it is neither skipped as finished nor resumed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import random
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from gansep.atomic import sha256_file, write_json_atomic
from gansep.errors import GansepError

log = logging.getLogger(__name__)

DEFAULT_COMMAND = ["${env}", "gansep", "fit", "${args}"]
IDENTITY = "run.json"  # a run's command and the SHA-256 of the files it names


class SweepError(GansepError, ValueError):
    """A sweep file that cannot be run; the message names the key."""


def _sample(name: str, spec: dict, rng: random.Random):
    """One value of a parameter from its distribution (wandb's names)."""
    kind = spec.get("distribution", "categorical" if "values" in spec else "constant")
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return rng.choice(spec["values"])
    low, high = spec.get("min"), spec.get("max")
    if low is None or high is None:
        raise SweepError(f"parameter {name}: distribution {kind!r} needs min and max")
    if kind == "uniform":
        return rng.uniform(low, high)
    if kind == "int_uniform":
        return rng.randint(int(low), int(high))
    if kind == "log_uniform_values":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if kind == "q_uniform":
        q = spec.get("q", 1)
        return round(rng.uniform(low, high) / q) * q
    raise SweepError(f"parameter {name}: unsupported distribution {kind!r} (uniform, "
                     "int_uniform, log_uniform_values, q_uniform, or values)")


def expand(sweep: dict, max_runs: int | None = None, seed: int = 0) -> list[dict]:
    """The runs of a sweep: ``{key: value}`` per run, grid in order or random samples."""
    method = sweep.get("method", "grid")
    parameters = sweep.get("parameters") or {}
    if not isinstance(parameters, dict) or not parameters:
        raise SweepError("the sweep has no 'parameters'")
    for name, spec in parameters.items():
        if not isinstance(spec, dict):
            raise SweepError(f"parameter {name}: expected a mapping with values/value/"
                             f"distribution, got {spec!r}")
    cap = max_runs if max_runs is not None else sweep.get("run_cap")
    if method == "grid":
        axes = []
        for name, spec in parameters.items():
            if "value" in spec:
                axes.append([(name, spec["value"])])
            elif "values" in spec:
                axes.append([(name, v) for v in spec["values"]])
            else:
                raise SweepError(f"parameter {name}: grid sweeps need 'values' or 'value'")
        runs = [dict(combination) for combination in itertools.product(*axes)]
        return runs[:cap] if cap else runs
    if method == "random":
        if not cap:
            raise SweepError("random sweeps need run_cap in the file or --max-runs")
        rng = random.Random(seed)
        return [{name: _sample(name, spec, rng) for name, spec in parameters.items()}
                for _ in range(cap)]
    raise SweepError(f"method {method!r} is not supported locally (grid or random)")


def run_name(params: dict) -> str:
    """A readable, stable folder name for a run's parameters."""
    parts = []
    for key, value in params.items():
        short = Path(str(value)).stem if isinstance(value, str) else str(value)
        parts.append(f"{key.split('.')[-1]}={short}")
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:6]
    return ("_".join(parts).replace("/", "-")[:120] + f"_{digest}").replace(" ", "")


def _expanded(sweep: dict, params: dict) -> list[str]:
    """The sweep's command for ``params``, ``${args}`` and ``${program}`` expanded."""
    command = sweep.get("command") or DEFAULT_COMMAND
    args = [f"--{key}={value}" for key, value in params.items()]
    out = []
    for item in command:
        if item == "${args}":
            out += args
        elif item in ("${env}", "${interpreter}"):
            continue
        elif item == "${program}":
            out.append(sweep["program"])
        else:
            out.append(str(item))
    return out


def run_identity(sweep: dict, params: dict) -> dict:
    """What makes a run what it is: its command and the SHA-256 of every file the command
    names (``--config FILE``, ``--key=FILE``: the base config, objective configs, ...). A
    finished run whose identity differs from this is not this run."""
    command = _expanded(sweep, params)
    files = {}
    for index, item in enumerate(command):
        value = item.split("=", 1)[1] if item.startswith("--") and "=" in item else \
            item if index and command[index - 1] == "--config" else None
        if value is not None and Path(value).is_file():
            files[value] = sha256_file(Path(value))
    return {"command": command, "files": files}


def log_version(run_dir: Path) -> str:
    """The logger version (``logs/run/<version>``) of a run's fit: the folder of the attempt
    that wrote ``checkpoints/last.ckpt`` when resuming it; otherwise the next free of
    ``train``, ``train-2``, ... (an attempt that failed before its first checkpoint keeps its
    logs: nothing of a run is lost)."""
    logs = run_dir / "logs" / "run"
    attempts = sorted((int(p.name.partition("-")[2] or 1), p.name) for p in logs.glob("train*")
                      if p.is_dir() and (p.name == "train" or p.name[6:].isdigit()))
    if (run_dir / "checkpoints" / "last.ckpt").exists() and attempts:
        return attempts[-1][1]
    return "train" if not attempts else f"train-{attempts[-1][0] + 1}"


def command_for(sweep: dict, params: dict, run_dir: Path, version: str | None = None
                ) -> list[str]:
    """The sweep's command with ``${args}`` expanded, plus this run's output folders (the
    logger ``version``, default `log_version`)."""
    out = _expanded(sweep, params)
    if out and out[0] == "gansep":  # the same installation as this process
        out = [sys.executable, "-m", "gansep.cli.main"] + out[1:]
    return out + [f"--trainer.logger.init_args.save_dir={run_dir / 'logs'}",
                  "--trainer.logger.init_args.name=run",
                  f"--trainer.logger.init_args.version={version or log_version(run_dir)}",
                  f"--trainer.callbacks.init_args.dirpath={run_dir / 'checkpoints'}"]


def _data_root(config_path: Path) -> str | None:
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    try:
        return config["data"]["collection"]["init_args"]["root"]
    except (KeyError, TypeError):
        return None


def execute(sweep: dict, params: dict, runs_dir: Path, evaluate: bool = True,
            perceptual: Path | None = None) -> str:
    """Runs one sweep run in its folder (fit, then evaluate, with the ``perceptual`` score when
    given), returning its status."""
    run_dir = runs_dir / run_name(params)
    status_path = run_dir / "status.json"
    if status_path.exists() and json.loads(status_path.read_text())["status"] == "finished":
        log.info("%s: finished earlier, skipped", run_dir.name)
        return "skipped"
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "params.json", params)
    write_json_atomic(run_dir / IDENTITY, run_identity(sweep, params))
    version = log_version(run_dir)
    command = command_for(sweep, params, run_dir, version)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    if checkpoint.exists():  # an interrupted run continues where it stopped
        command.append("--ckpt_path=last")
    (run_dir / "command.txt").write_text(shlex.join(command) + "\n")
    log.info("%s: starting", run_dir.name)
    with open(run_dir / "train.log", "a") as output:
        code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT,
                              env={**os.environ, "WANDB_MODE": os.environ.get(
                                  "WANDB_MODE", "offline")}).returncode
        config = run_dir / "logs" / "run" / version / "config.yaml"
        root = _data_root(config)
        if code == 0 and evaluate and root is not None:
            code = subprocess.run(
                [sys.executable, "-m", "gansep.cli.main", "evaluate", "--ckpt", str(checkpoint),
                 "--data", str(root), "--out", str(run_dir / "results"), "--overwrite"]
                + (["--perceptual", str(perceptual)] if perceptual is not None else []),
                stdout=output, stderr=subprocess.STDOUT).returncode
    status = "finished" if code == 0 else "failed"
    write_json_atomic(status_path, {"status": status, "exit_code": code, "params": params})
    log.info("%s: %s%s", run_dir.name, status, "" if code == 0 else
             f" (exit {code}; see {run_dir / 'train.log'})")
    return status


def _stored_identity(runs_dir: Path, params: dict) -> dict | None:
    """The identity a run folder records; that of its command.txt for folders written before
    identities were recorded, where the run finished or started."""
    run_dir = runs_dir / run_name(params)
    try:
        return json.loads((run_dir / IDENTITY).read_text())
    except FileNotFoundError:
        return {"command": None, "files": {}} if (run_dir / "status.json").exists() else None
    except (OSError, ValueError):
        return {"command": None, "files": {}}


def run_sweep(file: Path, runs_dir: Path, parallel: int = 1, max_runs: int | None = None,
              seed: int = 0, evaluate: bool = True,
              perceptual: Path | None = None) -> dict[str, int]:
    """Runs every run of the sweep ``file`` (``parallel`` at a time) into ``runs_dir``; returns
    how many finished, were skipped (finished earlier) and failed. SweepError for a file that
    cannot be read or expanded."""
    try:
        sweep = yaml.safe_load(Path(file).read_text())
        if not isinstance(sweep, dict):
            raise SweepError("not a sweep: expected a YAML mapping with parameters (and "
                             f"method, command), found {type(sweep).__name__}")
        runs = expand(sweep, max_runs, seed)
    except UnicodeDecodeError:
        raise SweepError(f"{file}: not a text file (a sweep is YAML)") from None
    except (OSError, yaml.YAMLError, SweepError) as error:
        raise SweepError(f"{file}: {' '.join(str(error).split())}") from None
    stored = {run_name(p): (_stored_identity(runs_dir, p), p) for p in runs}
    changed = [name for name, (identity, p) in stored.items()
               if identity is not None and identity != run_identity(sweep, p)]
    if changed:  # never skipped as finished, never resumed from another run's checkpoint
        raise SweepError(
            f"{runs_dir}: {len(changed)} run folder(s) hold runs of another command or config "
            f"(e.g. {runs_dir / changed[0]}: see its {IDENTITY} and command.txt); nothing run: "
            "use another --runs-dir, or remove those folders to run them again")
    log.info("%s: %d runs into %s", file, len(runs), runs_dir)
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        statuses = list(pool.map(lambda p: execute(sweep, p, runs_dir, evaluate, perceptual),
                                 runs))
    return {s: statuses.count(s) for s in ("finished", "skipped", "failed")}
