"""Plugins: a package of the user's own, registered under the entry-point group
gansep.plugins, whose classes checkpoints and exports may then name (docs/examples/)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from gansep import plugins
from gansep.errors import ConfigError
from gansep.models import build_generator, generator_class_path
from gansep.training.hyperparameters import allowed_classes

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "gansep-plugin-example"


def register(site: Path, name: str, entry_points: dict[str, str]) -> Path:
    """What ``pip install`` records for a distribution's entry points: a ``.dist-info``
    folder on the path (the metadata that importlib.metadata reads)."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[gansep.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    return site


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Installs plugins in this process for one test: ``installed({"name": "module"},
    {"module.py": "source"}, name="distribution")``; forgotten afterwards."""
    def install(entry_points, modules=None, name="some-plugin"):
        site = register(tmp_path / "site", name, entry_points)
        for name, source in (modules or {}).items():
            (site / name).write_text(source)
        monkeypatch.syspath_prepend(str(site))
        plugins.refresh()
        allowed_classes.cache_clear()
    yield install
    plugins.refresh()
    allowed_classes.cache_clear()


def test_a_plugin_exports_its_own_classes_and_nothing_else(installed, tmp_path):
    installed({"mine": "my_plugin", "broken": "my_broken", "stdlib": "subprocess",
               "loose": "my_loose"},
              {"my_plugin.py": "import subprocess\nfrom torch import nn\n"
                               "from gansep.losses import L1\n"
                               "class Mine(L1):\n    pass\n"
                               "Popen, Module = subprocess.Popen, nn.Module\n"
                               "__all__ = ['Mine', 'Popen', 'Module']\n",
               "my_broken.py": "raise RuntimeError('half-written')\n",
               "my_loose.py": "class Loose:\n    pass\n"})
    classes = plugins.plugin_classes()
    assert set(classes) == {"my_plugin.Mine"}  # re-exported torch/stdlib classes are not its
    assert "my_plugin.Mine" in allowed_classes() and "subprocess.Popen" not in allowed_classes()
    text = plugins.describe()
    assert "broken: my_broken" in text and "cannot be imported (RuntimeError: half-written)" \
        in text
    assert "stdlib: subprocess" in text and "not a plugin's own package" in text
    assert "has no __all__" in text


def test_generators_of_unregistered_modules_are_refused_with_how_to_register(installed):
    installed({"example": "gansep_plugin_example.plugin"})
    sys.path.insert(0, str(EXAMPLE))
    try:
        generator = build_generator("gansep_plugin_example.plugin.ConvMask",
                                    {"kernel": 9, "output_length": 64})
        assert generator_class_path(generator) == "gansep_plugin_example.plugin.ConvMask"
        plugins.refresh()
        sys.path.remove(next(p for p in sys.path if p.endswith("site")))  # uninstalled
        plugins.refresh()
        with pytest.raises(ConfigError, match="nor one that an installed plugin exports.*"
                                              "gansep.plugins"):
            build_generator("gansep_plugin_example.plugin.ConvMask", {"kernel": 9})
        with pytest.raises(ConfigError, match="nor one that an installed plugin exports"):
            generator_class_path(generator)
    finally:
        sys.path.remove(str(EXAMPLE))


@pytest.mark.slow
def test_the_example_plugin_trains_checkpoints_exports_and_separates(installed, cli, tmp_path,
                                                                    toy_root, monkeypatch):
    """The worked plugin package, registered as pip would register it (its entry point in a
    ``.dist-info`` on the path): gansep lists it, trains its generator with its loss and
    discriminator for 2 steps, resumes, tests with its metric, exports and separates; without
    the registration (the package importable, not installed as a plugin) the same checkpoint
    and export are refused. The commands run in this process (`cli`): the registration is read
    from the path as a new process would read it."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    installed({"example": "gansep_plugin_example.plugin"}, name="gansep-plugin-example")
    shutil.copytree(toy_root, tmp_path / "data" / "toy")
    listed = cli(["plugins"], tmp_path)
    assert "example: gansep_plugin_example.plugin from gansep-plugin-example" in listed.stdout
    assert "gansep_plugin_example.plugin.ConvMask" in listed.stdout
    config = EXAMPLE / "convmask.yaml"
    cli(["fit", "--config", config, "--trainer.max_steps=2"], tmp_path)
    checkpoint = tmp_path / "runs" / "plugin-example" / "convmask" / "checkpoints" / "last.ckpt"
    # resumed: the checkpoint's hyper-parameters name the plugin's four classes
    cli(["fit", "--config", config, "--trainer.max_steps=3", "--ckpt_path", checkpoint],
        tmp_path)
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 3
    cli(["test", "--config", config, "--ckpt_path", checkpoint], tmp_path)
    assert "peak_error" in next((checkpoint.parents[1] / "test").rglob("results.md")).read_text()
    cli(["export", checkpoint, "--out", tmp_path / "export"], tmp_path)
    mixture = next((tmp_path / "data" / "toy" / "test").glob("*/mixture.wav"))
    cli(["separate", mixture, "--model", tmp_path / "export", "--out", tmp_path / "separated"],
        tmp_path)
    assert len(list((tmp_path / "separated").glob("*/*.wav"))) == 2
    # Not registered: the same files are refused, one line that says how to register.
    sys.path.remove(next(p for p in sys.path if p.endswith("site")))
    plugins.refresh()
    allowed_classes.cache_clear()
    for args in (["export", checkpoint, "--out", tmp_path / "export-2"],
                 ["test", "--config", config, "--ckpt_path", checkpoint],
                 ["separate", mixture, "--model", tmp_path / "export", "--out",
                  tmp_path / "separated-2"]):
        refused = cli(args, tmp_path, check=False)
        assert refused.returncode == 2, refused.stderr
        assert "gansep.plugins" in refused.stderr and "Traceback" not in refused.stderr
