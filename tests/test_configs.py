"""The configs that the config files' own comments tell users to run exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_configs_named_in_config_comments_exist():
    named = {(path, match) for path in (ROOT / "configs").rglob("*.yaml")
             for line in path.read_text().splitlines() if line.lstrip().startswith("#")
             for match in re.findall(r"configs/[\w./+-]+\.yaml", line)}
    assert named, "no config names a config in its comments"
    missing = [f"{path.relative_to(ROOT)}: {name}" for path, name in named
               if "<" not in name and not (ROOT / name).is_file()]
    assert not missing


def test_every_experiment_names_files_that_exist_and_expands():
    """Each sweep file of experiments/ expands to runs, and every config it passes exists."""
    import yaml

    from gansep.experiments.sweep import expand

    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        sweep = yaml.safe_load(path.read_text())
        runs = expand(sweep)
        assert runs, path
        named = {value for run in runs for value in run.values()
                 if isinstance(value, str) and value.startswith("configs/")}
        named |= {arg for arg in sweep.get("command", []) if str(arg).startswith("configs/")}
        missing = [name for name in named if not (ROOT / name).is_file()]
        assert not missing, f"{path.name}: {missing}"
