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
