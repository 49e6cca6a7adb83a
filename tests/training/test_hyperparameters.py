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
        assert unsafe_entries(model, strings=False) == [], path  # a config names sub-configs


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


def test_strings_jsonargparse_would_read_as_configuration_are_found(tmp_path):
    # A sub-config as a path (absolute, relative to a folder looked in, without an ending),
    # and a configuration written as text: jsonargparse would read each and import its class.
    payload = "class_path: os.system\ninit_args: {command: 'true'}\n"
    (tmp_path / "payload").write_text(payload)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "payload.yaml").write_text(payload)
    values = {"lr_scheduler": str(tmp_path / "payload"),
              "discriminator_lr_scheduler": "sub/payload.yaml",
              "optimizer": "{class_path: os.system}",
              "objective": {"init_args": {"reconstruction": ["payload"]}}}
    found = unsafe_entries(values, folders=(tmp_path,))
    assert len(found) == 4
    assert any("lr_scheduler" in f and "path of a configuration file" in f for f in found)
    assert any("optimizer" in f and "configuration written as text" in f for f in found)
    assert any("reconstruction[0]: 'payload'" in f for f in found)
    with pytest.raises(UnsafeCheckpoint, match="a configuration to read"):
        check_hyperparameters({"hyper_parameters": {"lr_scheduler": "../payload"}},
                              tmp_path / "sub" / "x.ckpt")


def test_plain_data_strings_and_binary_files_are_no_configuration(tmp_path):
    (tmp_path / "last.ckpt").write_bytes(bytes(range(256)) * 16)  # binary: no config
    (tmp_path / "song.txt").write_text("la la la\n")  # text, but a plain string in YAML
    assert unsafe_entries({"init_from": str(tmp_path / "last.ckpt"), "vocabulary": "english",
                           "name": str(tmp_path / "song.txt"), "upsampling": "linear"},
                          folders=(tmp_path,)) == []


def test_the_resolved_model_is_checked_again_without_reading_strings():
    from gansep.training.hyperparameters import check_resolved_model

    check_resolved_model({"class_path": "gansep.training.Separator", "init_args": {
        "generator": {"class_path": "gansep.models.WaveUNet", "init_args": {}},
        "init_from": "runs/x.yaml"}}, "x.ckpt")  # a string is data once resolved
    with pytest.raises(UnsafeCheckpoint, match=r"\(resolved\)\.init_args\.optimizer"):
        check_resolved_model({"class_path": "gansep.training.Separator", "init_args": {
            "optimizer": {"class_path": "os.system", "init_args": {}}}}, "x.ckpt")


def test_the_trainers_checkpoint_reader_checks_what_it_resolves(tmp_path):
    # --ckpt_path last/best: Lightning finds the file and loads it through the plugin.
    import torch

    from gansep.cli.lightning import CheckedCheckpointIO

    torch.save({"state_dict": {"w": torch.ones(2)},
                "hyper_parameters": {"optimizer": "{class_path: os.system}"}},
               tmp_path / "last.ckpt")
    with pytest.raises(UnsafeCheckpoint, match="last.ckpt: refused"):
        CheckedCheckpointIO().load_checkpoint(tmp_path / "last.ckpt")
    torch.save({"state_dict": {"w": torch.tensor([float("nan")])}}, tmp_path / "nan.ckpt")
    with pytest.raises(ValueError, match="NaN or infinite"):
        CheckedCheckpointIO().load_checkpoint(tmp_path / "nan.ckpt")
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "good.ckpt")
    assert CheckedCheckpointIO().load_checkpoint(tmp_path / "good.ckpt")["state_dict"]["w"].sum() == 2
