"""The ambiguity experiment's controls and learning curves, first in its report
(``compare-ambiguity.md``, ``ambiguity-curves.png``: see `gansep.experiments.compare`).

A comparison of objectives on ambiguous data means something only when three controls pass:

- *metric*: on every data folder compared, oracle estimates that choose (each backing phrase
  wholly kept or wholly left out, by a coin) come out 100 % decided, and oracle estimates that
  average (half of every phrase) 100 % averaged, through the same reading and scoring code
  ([`write_oracle_estimates`][gansep.eval.ambiguity.write_oracle_estimates]);
- *learnable rule*: on ``--cue timbre`` data, the L1 runs' agreement with the assignment is at
  least `LEARNABLE` (the instrument can learn where a phrase goes when the audio says so);
- *averaging*: on ``--cue none`` data, the L2 runs' mean ``g`` lies in `AVERAGING` and most
  of their phrases are averaged (``0.25 <= g <= 0.75``): the premise, that with nothing to go
  on L2 (whose minimiser is the conditional mean) halves the backing voice. The mean alone
  cannot tell: a model that keeps every bright backing voice and drops every dark one has a
  mean ``g`` near 0.5 too, deciding every phrase. (L1 is no such control: the minimiser of an
  absolute error between two equally likely answers is any point between them, so L1 is
  free to decide.)

The cue of a data folder is read from its ``ambiguity.json`` (written by ``gansep make-data
ambiguous``); the L1 and L2 runs are those whose objective preset is ``l1``/``l2``.
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gansep.data.ambiguous import read_manifest
from gansep.eval.ambiguity import (DECIDED, PhraseScore, evaluate_ambiguity, summary,
                                   write_oracle_estimates)
from gansep.experiments.sweep import DATA_KEY, config_data_root
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)

LEARNABLE = 0.90  # the least agreement of L1 with the assignment on --cue timbre data
AVERAGING = (0.35, 0.65)  # where L2's mean g must lie on --cue none data
#: The validation curves drawn: the agreement (the learnable rule) and the share decided.
CURVES = ("val/agreement/vocals", "val/decided/vocals")


@dataclass
class Control:
    """One control's outcome on one data folder."""

    name: str
    data: str
    required: str
    measured: str
    passed: bool


def data_root(run: Path) -> Path | None:
    """The data folder a run trained on: its ``params.json``'s, else its logged config's."""
    try:
        params = json.loads((run / "params.json").read_text())
    except (OSError, ValueError):
        params = {}
    if isinstance(params, dict) and params.get(DATA_KEY):
        return Path(params[DATA_KEY])
    for config in sorted(run.glob("logs/*/*/config.yaml"), reverse=True):
        root = config_data_root(config)
        if root is not None:
            return Path(root)
    return None


def _oracle(root: Path) -> list[Control]:
    controls = []
    with tempfile.TemporaryDirectory(prefix="gansep-oracle-") as tmp:
        for kind, wanted in (("choose", "decided"), ("average", "averaged")):
            estimates = write_oracle_estimates(root, Path(tmp) / kind, kind)
            values = evaluate_ambiguity(root, estimates, Path(tmp) / f"{kind}-scores")
            controls.append(Control(f"metric: an oracle that {kind}s", root.name,
                                    f"100 % {wanted}",
                                    f"{100 * values[wanted]:.1f} % of {values['phrases']} "
                                    "phrases", values[wanted] == 1.0))
    return controls


def check_controls(runs: list[Path], objectives: dict[Path, str],
                   scores: dict[Path, list[PhraseScore]], source: str = "vocals"
                   ) -> list[Control]:
    """The controls over ``runs`` (their objective preset names and their ``source``'s phrase
    scores given): the metric's on every data folder, the learnable rule's on each ``--cue
    timbre`` folder, the averaging premise's on each ``--cue none`` folder. A control whose
    runs are missing fails (it was not run)."""
    roots: dict[Path, list[Path]] = {}
    for run in runs:
        root = data_root(run)
        if root is not None:
            roots.setdefault(root, []).append(run)
    controls = []
    cues = {}
    for root in roots:
        manifest = read_manifest(root) if root.is_dir() else None
        cues[root] = manifest["cue"] if manifest else None
        if root.is_dir():
            controls += _oracle(root)
        else:
            controls.append(Control("metric: oracle estimates", root.name, "the data folder",
                                    "missing", False))
    for cue, name, objective in (("timbre", "learnable rule: L1 on --cue timbre", "l1"),
                                 ("none", "averaging: L2 on --cue none", "l2")):
        folders = [root for root, c in cues.items() if c == cue]
        if not folders:
            controls.append(Control(name, "(none compared)", _required(cue),
                                    f"not run: no --cue {cue} data among the runs", False))
        for root in folders:
            pooled = [s for run in roots[root] if objectives.get(run) == objective
                      for s in scores.get(run, [])]
            if not pooled:
                controls.append(Control(name, root.name, _required(cue),
                                        f"not run: no {objective} run", False))
                continue
            values = summary(pooled, source)
            if cue == "timbre":
                measured, passed = values["agreement"], values["agreement"] >= LEARNABLE
                text = f"{100 * measured:.1f} % agreement"
            else:
                measured = values["mean_g"]
                passed = (AVERAGING[0] <= measured <= AVERAGING[1]
                          and values["averaged"] > 0.5)
                text = f"mean g {measured:.3f}, {100 * values['averaged']:.1f} % averaged"
            runs_of = sum(objectives.get(run) == objective for run in roots[root])
            controls.append(Control(name, root.name, _required(cue),
                                    f"{text} ({values['phrases']} phrases, {runs_of} runs)",
                                    passed))
    return controls


def _required(cue: str) -> str:
    return (f">= {100 * LEARNABLE:.0f} % agreement" if cue == "timbre"
            else f"mean g in [{AVERAGING[0]}, {AVERAGING[1]}], most phrases averaged")


def controls_markdown(controls: list[Control]) -> str:
    """The controls' table, under a line that says whether the comparison can be read."""
    verdict = ("All controls pass: the comparison below can be read." if all(
        c.passed for c in controls) else "**A control failed: the comparison below is "
        "inconclusive** (see the failed rows).")
    lines = ["## Controls", "", verdict, "", "| control | data | required | measured | |",
             "|---|---|---|---|---|"]
    lines += [f"| {c.name} | {c.data} | {c.required} | {c.measured} | "
              f"{'pass' if c.passed else '**FAIL**'} |" for c in controls]
    return "\n".join(lines) + "\n"


def read_curves(run: Path) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value)]}`` of the `CURVES` in a run's ``metrics.csv`` files (every
    logger version, in step order)."""
    curves: dict[str, list[tuple[int, float]]] = {name: [] for name in CURVES}
    for path in sorted(run.glob("logs/*/*/metrics.csv")):
        try:
            with open(path, newline="") as file:
                for row in csv.DictReader(file):
                    for name in CURVES:
                        if row.get(name) not in (None, ""):
                            curves[name].append((int(row["step"]), float(row[name])))
        except (OSError, ValueError, KeyError, csv.Error) as error:
            log.warning("%s: curves left out (%s)", path, error)
    return {name: sorted(points) for name, points in curves.items()}


def plot_curves(panels: dict[str, dict[str, list[Path]]], path: Path) -> bool:
    """``ambiguity-curves.png``: per panel (``{"pretraining": {label: runs}, "fine-tuning":
    ...}``), the validation agreement and share decided of vocals (the validation tracks'
    median, as the callback logs them) against the step, averaged over each label's runs
    (seeds) at the steps they share. False (nothing written) when no run logged them."""
    series = {}
    for panel, groups in panels.items():
        for label, runs in groups.items():
            for name in CURVES:
                by_step: dict[int, list[float]] = {}
                for run in runs:
                    for step, value in read_curves(run)[name]:
                        by_step.setdefault(step, []).append(value)
                shared = sorted(s for s, v in by_step.items() if len(v) == len(runs))
                if shared:
                    series[(panel, name, label)] = (shared, [float(np.mean(by_step[s]))
                                                             for s in shared])
    if not series:
        return False
    plt = pyplot()

    names = [p for p in panels if any(k[0] == p for k in series)]
    figure, axes = plt.subplots(len(CURVES), len(names), figsize=(5.5 * len(names), 6),
                                squeeze=False)
    for column, panel in enumerate(names):
        for row, name in enumerate(CURVES):
            axis = axes[row][column]
            drawn = [(label, steps, values) for (p, n, label), (steps, values)
                     in sorted(series.items()) if p == panel and n == name]
            for index, (label, steps, values) in enumerate(drawn):
                # ten colours, then dashed: no two lines look alike
                axis.plot(steps, values, marker=".", label=label,
                          linestyle=("-", "--", ":")[index // 10 % 3])
            if name == CURVES[0]:
                axis.axhline(LEARNABLE, color="grey", linestyle=":")
            axis.set_title(f"{panel}: {name}", fontsize=9)
            axis.set_xlabel("step")
            axis.legend(fontsize=6)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    return True
