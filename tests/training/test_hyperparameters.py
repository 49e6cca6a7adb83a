"""A checkpoint's hyper-parameters may name gansep's and torch's allowed classes only: every
config gansep ships passes, and names of other code are found wherever they sit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gansep.training.hyperparameters import (UnsafeCheckpoint, allowed_classes,
                                             check_hyperparameters, unsafe_entries)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for folder in ("configs", "experiments") for p in (ROOT / folder).rglob("*.yaml"))


def models(value):
    """Every ``model:`` section of a config (or a sweep's parameters holding one)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "model":
                yield item
            yield from models(item)
    elif isinstance(value, list):
        for item in value:
            yield from models(item)


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT)) for p in CONFIGS])
def test_every_shipped_model_config_is_allowed(path):
    for model in models(yaml.safe_load(path.read_text())):
        assert unsafe_entries(model) == [], path


def test_the_allow_list_holds_gansep_and_torch_classes_only():
    allowed = allowed_classes()
    for path in ("gansep.training.Separator", "gansep.training.GANSeparator",
                 "gansep.models.WaveUNet", "gansep.models.discriminators.MultiPeriod",
                 "gansep.losses.LSGAN", "torch.optim.AdamW",
                 "torch.optim.lr_scheduler.CosineAnnealingLR"):
        assert path in allowed
    assert all(p.startswith(("gansep.", "torch.optim.")) for p in allowed)
    for path in ("os.system", "subprocess.call", "builtins.eval", "torch.load",
                 "gansep.atomic.atomic_target", "gansep.export.export_separator"):
        assert path not in allowed


@pytest.mark.parametrize("value, where", [
    ({"optimizer": {"class_path": "os.system", "init_args": {"command": "x"}}},
     "optimizer.class_path: 'os.system'"),
    ({"optimizer": "builtins.exec"}, "optimizer: 'builtins.exec'"),
    ({"objective": {"init_args": {"reconstruction": [{"class_path": "shutil.rmtree"}]}}},
     "objective.init_args.reconstruction[0].class_path: 'shutil.rmtree'"),
    ({"_class_path": "gansep.export.export_separator"}, "_class_path"),
    ({"_instantiator": "os.system"}, "_instantiator: 'os.system'"),
    ({"generator": {"class_path": 3}}, "generator.class_path: 3"),
])
def test_code_is_found_wherever_it_is_named(value, where):
    found = unsafe_entries(value)
    assert len(found) == 1 and where in found[0]
    with pytest.raises(UnsafeCheckpoint, match="x.ckpt: refused") as error:
        check_hyperparameters({"hyper_parameters": value}, "x.ckpt")
    assert where in str(error.value)


def test_plain_strings_that_look_dotted_are_data():
    # A file name, a run name, a version: not modules here, so nothing would import them.
    assert unsafe_entries({"init_from": "runs/l1.v2/last.ckpt", "name": "demo.l1",
                           "version": "1.2.3", "upsampling": "linear"}) == []
