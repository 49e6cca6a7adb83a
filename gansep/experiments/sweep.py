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

**Two stages** (gansep's extension of the format): a sweep file with a ``pretrain`` key (a
mapping with its own ``parameters`` and, optionally, ``command``; default the sweep's) first
runs those pretraining runs into ``<runs-dir>/pretrain/``, then starts every run of the sweep
from the pretraining run whose parameters agree with it on the keys both name (each run must
match exactly one), through ``--model.init_args.init_from=<its last.ckpt>`` (``init_key``
names another key). The comparison so isolates the objective: every objective starts from the
same weights per data and seed. A run whose pretraining run did not finish, or whose data is
not the data its pretraining run was trained on (another folder, or files changed since:
``data.json`` records their SHA-256), is refused and recorded as failed, with the reason.
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
from gansep.devices import usable_cores
from gansep.errors import GansepError

log = logging.getLogger(__name__)

DEFAULT_COMMAND = ["${env}", "gansep", "fit", "${args}"]
IDENTITY = "run.json"  # a run's command and the SHA-256 of the files it names
PRETRAIN = "pretrain"  # the sweep file's key of the first stage, and its runs' folder
INIT_KEY = "model.init_args.init_from"
DATA_KEY = "data.collection.init_args.root"
#: The keys on which a run and its pretraining run agree (where both stages name them), unless
#: the stage's ``match`` says otherwise.
MATCH = [DATA_KEY, "seed_everything"]
DATA_RECORD = "data.json"  # the data a run was trained on: its folder and files' digests


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


def _expanded(sweep: dict, params: dict, extra: dict | None = None) -> list[str]:
    """The sweep's command for ``params`` (and ``extra`` arguments, a fine-tuning run's
    ``init_from``), ``${args}`` and ``${program}`` expanded."""
    command = sweep.get("command") or DEFAULT_COMMAND
    args = [f"--{key}={value}" for key, value in {**params, **(extra or {})}.items()]
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


def run_identity(sweep: dict, params: dict, extra: dict | None = None) -> dict:
    """What makes a run what it is: its command and the SHA-256 of every file the command
    names (``--config FILE``, ``--key=FILE``: the base config, objective configs, the
    pretrained checkpoint, ...). A finished run whose identity differs from this is not this
    run."""
    command = _expanded(sweep, params, extra)
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


def command_for(sweep: dict, params: dict, run_dir: Path, version: str | None = None,
                extra: dict | None = None) -> list[str]:
    """The sweep's command with ``${args}`` expanded, plus this run's output folders (the
    logger ``version``, default `log_version`)."""
    out = _expanded(sweep, params, extra)
    if out and out[0] == "gansep":  # the same installation as this process
        out = [sys.executable, "-m", "gansep.cli.main"] + out[1:]
    return out + [f"--trainer.logger.init_args.save_dir={run_dir / 'logs'}",
                  "--trainer.logger.init_args.name=run",
                  f"--trainer.logger.init_args.version={version or log_version(run_dir)}",
                  f"--trainer.callbacks.init_args.dirpath={run_dir / 'checkpoints'}"]


def config_data_root(config_path: Path) -> str | None:
    """The ``data.collection.init_args.root`` of a run config file, or None where it has none
    (or cannot be read)."""
    try:
        config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
        return config["data"]["collection"]["init_args"]["root"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def _finished(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def data_record(root: str | Path) -> dict:
    """``{root, files}``: the data folder (absolute) and the SHA-256 of every file under it
    (hidden ones left out), by path relative to it: what a run was trained on."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise SweepError(f"{root}: the data folder is missing")
    files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
             if p.is_file() and not any(part.startswith(".")
                                         for part in p.relative_to(root).parts)}
    return {"root": str(root), "files": files}


class _Stage:
    """The fine-tuning stage of a two-stage sweep: the pretraining run each run starts from,
    and the check that it was trained on the run's data."""

    def __init__(self, sweep: dict, pretraining: dict, runs: list[dict], runs_dir: Path):
        self.sweep, self.runs_dir = sweep, runs_dir
        self.key = str(pretraining.get("init_key", INIT_KEY))
        match = pretraining.get("match", MATCH)
        if not isinstance(match, list) or not all(isinstance(k, str) for k in match):
            raise SweepError(f"{PRETRAIN}.match: expected a list of parameter names, got "
                             f"{match!r}")
        self.pretrain_runs = expand(pretraining)
        self._records: dict[str, dict] = {}
        self.source = {}
        for params in runs:
            keys = [k for k in match if k in params and any(k in p for p in self.pretrain_runs)]
            matches = [p for p in self.pretrain_runs
                       if all(p.get(k) == params[k] for k in keys)]
            if len(matches) != 1:
                raise SweepError(
                    f"run {run_name(params)}: {len(matches)} pretraining runs agree with it on "
                    f"{', '.join(keys) or 'no key'} ({PRETRAIN}.match: {', '.join(match)}); "
                    "expected exactly one")
            self.source[run_name(params)] = matches[0]

    def pretrain_dir(self, params: dict) -> Path:
        return self.runs_dir / PRETRAIN / run_name(self.source[run_name(params)])

    def extra(self, params: dict) -> dict:
        return {self.key: str(self.pretrain_dir(params) / "checkpoints" / "last.ckpt")}

    def _record(self, root: str) -> dict:
        if root not in self._records:  # each data folder hashed once per sweep
            self._records[root] = data_record(root)
        return self._records[root]

    def refusal(self, params: dict) -> str | None:
        """Why ``params`` cannot start from its pretraining run, or None."""
        source = self.pretrain_dir(params)
        checkpoint = source / "checkpoints" / "last.ckpt"
        if not _finished(source) or not checkpoint.is_file():
            return (f"its pretraining run {source} did not finish (no finished status.json "
                    "and checkpoints/last.ckpt): nothing to fine-tune from")
        try:
            trained = json.loads((source / DATA_RECORD).read_text())
        except (OSError, ValueError):
            return f"{source / DATA_RECORD}: missing or unreadable: the data it was trained on " \
                   "is unknown"
        root = _planned_root(self.sweep, params)
        if root is None:
            return ("cannot tell which data it trains on: give "
                    f"{DATA_KEY} in the sweep's parameters or its base --config")
        here = self._record(root)
        if here["root"] != trained.get("root"):
            return (f"its pretraining run {source} was trained on {trained.get('root')}, this "
                    f"run on {here['root']}: refused, the comparison needs the same data")
        changed = sorted(set(here["files"]) ^ set(trained.get("files") or {})
                         | {k for k in here["files"].keys() & (trained.get("files") or {}).keys()
                            if here["files"][k] != trained["files"][k]})
        if changed:
            return (f"its pretraining run {source} was trained on other data: {len(changed)} "
                    f"file(s) of {here['root']} differ since (e.g. {changed[0]}); refused: "
                    "pretrain again into another --runs-dir")
        return None


def _planned_root(sweep: dict, params: dict) -> str | None:
    """The data folder a run will train on: its parameter, else the command's
    ``--data.collection.init_args.root=``, else its base ``--config``'s."""
    if DATA_KEY in params:
        return str(params[DATA_KEY])
    command = _expanded(sweep, params)
    for index, item in enumerate(command):
        if item.startswith(f"--{DATA_KEY}="):
            return item.split("=", 1)[1]
    for index, item in enumerate(command[1:], start=1):
        if command[index - 1] == "--config" and Path(item).is_file():
            root = config_data_root(Path(item))
            if root is not None:
                return str(root)
    return None


def _refuse(run_dir: Path, params: dict, reason: str) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "params.json", params)
    write_json_atomic(run_dir / "status.json", {"status": "failed", "exit_code": None,
                                                "params": params, "refused": reason})
    log.error("%s: refused: %s", run_dir.name, reason)
    return "failed"


def _environment(parallel: int) -> dict:
    """The runs' environment: wandb offline unless set; with several runs at a time, each
    run's share of the cores as its thread count (unless set), so that they do not fight."""
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    if parallel > 1:
        threads = str(max(1, usable_cores() // parallel))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, threads)
    return env


def execute(sweep: dict, params: dict, runs_dir: Path, evaluate: bool = True,
            perceptual: Path | None = None, stage: _Stage | None = None,
            record_data: bool = False, parallel: int = 1) -> str:
    """Runs one sweep run in its folder (fit, then evaluate, with the ``perceptual`` score when
    given), returning its status. In a fine-tuning ``stage`` the run starts from its
    pretraining run, or is refused; ``record_data``: write the data it was trained on
    (``data.json``), as a pretraining run does."""
    run_dir = runs_dir / run_name(params)
    status_path = run_dir / "status.json"
    if _finished(run_dir):
        log.info("%s: finished earlier, skipped", run_dir.name)
        return "skipped"
    extra = None
    if stage is not None:
        reason = stage.refusal(params)
        if reason is not None:
            return _refuse(run_dir, params, reason)
        extra = stage.extra(params)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "params.json", params)
    write_json_atomic(run_dir / IDENTITY, run_identity(sweep, params, extra))
    version = log_version(run_dir)
    command = command_for(sweep, params, run_dir, version, extra)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    if checkpoint.exists():  # an interrupted run continues where it stopped
        command.append("--ckpt_path=last")
    (run_dir / "command.txt").write_text(shlex.join(command) + "\n")
    log.info("%s: starting", run_dir.name)
    with open(run_dir / "train.log", "a") as output:
        env = _environment(parallel)
        code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT,
                              env=env).returncode
        config = run_dir / "logs" / "run" / version / "config.yaml"
        root = config_data_root(config)
        if code == 0 and record_data and root is not None:
            write_json_atomic(run_dir / DATA_RECORD, data_record(root))
        if code == 0 and evaluate and root is not None:
            code = subprocess.run(
                [sys.executable, "-m", "gansep.cli.main", "evaluate", "--ckpt", str(checkpoint),
                 "--data", str(root), "--out", str(run_dir / "results"), "--overwrite"]
                + (["--perceptual", str(perceptual)] if perceptual is not None else []),
                stdout=output, stderr=subprocess.STDOUT, env=env).returncode
    status = "finished" if code == 0 else "failed"
    write_json_atomic(status_path, {"status": status, "exit_code": code, "params": params})
    log.info("%s: %s%s", run_dir.name, status, "" if code == 0 else
             f" (exit {code}; see {run_dir / 'train.log'})")
    return status


def _stored_identity(runs_dir: Path, params: dict) -> dict | None:
    """The identity a run folder records; that of its command.txt for folders written before
    identities were recorded, where the run finished or started (None where it never ran:
    none, or refused before it started)."""
    run_dir = runs_dir / run_name(params)
    try:
        return json.loads((run_dir / IDENTITY).read_text())
    except FileNotFoundError:
        try:
            status = json.loads((run_dir / "status.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            status = {}
        return None if isinstance(status, dict) and "refused" in status \
            else {"command": None, "files": {}}
    except (OSError, ValueError):
        return {"command": None, "files": {}}


def _check_identities(sweep: dict, runs: list[dict], runs_dir: Path,
                      extra=lambda params: None) -> None:
    stored = {run_name(p): (_stored_identity(runs_dir, p), p) for p in runs}
    changed = [name for name, (identity, p) in stored.items()
               if identity is not None and identity != run_identity(sweep, p, extra(p))]
    if changed:  # never skipped as finished, never resumed from another run's checkpoint
        raise SweepError(
            f"{runs_dir}: {len(changed)} run folder(s) hold runs of another command or config "
            f"(e.g. {runs_dir / changed[0]}: see its {IDENTITY} and command.txt); nothing run: "
            "use another --runs-dir, or remove those folders to run them again")


def _pretraining(sweep: dict) -> dict | None:
    """The ``pretrain`` stage of a sweep as a sweep of its own (the main command by default)."""
    stage = sweep.get(PRETRAIN)
    if stage is None:
        return None
    if not isinstance(stage, dict) or not isinstance(stage.get("parameters"), dict):
        raise SweepError(f"{PRETRAIN}: expected a mapping with 'parameters' (and optionally "
                         f"'command', 'match', 'init_key'), got {stage!r}")
    return {"method": "grid", "command": sweep.get("command"), **stage}


def run_sweep(file: Path, runs_dir: Path, parallel: int = 1, max_runs: int | None = None,
              seed: int = 0, evaluate: bool = True,
              perceptual: Path | None = None) -> dict[str, int]:
    """Runs every run of the sweep ``file`` (``parallel`` at a time) into ``runs_dir``, after
    its pretraining stage when it has one (into ``runs_dir/pretrain``); returns how many
    finished, were skipped (finished earlier) and failed, both stages together. SweepError for
    a file that cannot be read or expanded."""
    try:
        sweep = yaml.safe_load(Path(file).read_text())
        if not isinstance(sweep, dict):
            raise SweepError("not a sweep: expected a YAML mapping with parameters (and "
                             f"method, command), found {type(sweep).__name__}")
        runs = expand(sweep, max_runs, seed)
        pretraining = _pretraining(sweep)
        stage = _Stage(sweep, pretraining, runs, runs_dir) if pretraining else None
    except UnicodeDecodeError:
        raise SweepError(f"{file}: not a text file (a sweep is YAML)") from None
    except (OSError, yaml.YAMLError, SweepError) as error:
        raise SweepError(f"{file}: {' '.join(str(error).split())}") from None
    statuses = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        if stage is not None:
            needed = {run_name(p): p for p in stage.source.values()}
            pre_dir = runs_dir / PRETRAIN
            _check_identities(pretraining, list(needed.values()), pre_dir)
            log.info("%s: %d pretraining runs into %s", file, len(needed), pre_dir)
            statuses += pool.map(lambda p: execute(pretraining, p, pre_dir, evaluate, perceptual,
                                                   record_data=True, parallel=parallel),
                                 needed.values())
        # After the pretraining: a fine-tuning run's identity holds its checkpoint's digest.
        _check_identities(sweep, runs, runs_dir,
                          stage.extra if stage is not None else lambda params: None)
        log.info("%s: %d runs into %s", file, len(runs), runs_dir)
        statuses += pool.map(lambda p: execute(sweep, p, runs_dir, evaluate, perceptual, stage,
                                               parallel=parallel), runs)
    return {s: statuses.count(s) for s in ("finished", "skipped", "failed")}
