"""Every objective preset of configs/objectives builds as LightningCLI builds it and binds to a
generator."""

from pathlib import Path

import pytest

from tests.conftest import tiny_generator

PRESETS = sorted((Path(__file__).resolve().parents[2] / "configs" / "objectives").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_objective_preset_builds(preset, tmp_path):
    from jsonargparse import ActionConfigFile, ArgumentParser

    from gansep.losses import Objective

    parser = ArgumentParser()
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_subclass_arguments(Objective, "objective")
    wrapper = tmp_path / "run.yaml"
    wrapper.write_text(f"objective: {preset}\n")  # nested paths resolve from the preset
    objective = parser.instantiate_classes(parser.parse_args(["--config", str(wrapper)])).objective
    if objective.lyrics is not None:  # a lyrics term needs a generator with a lyrics head
        from gansep.models import LyricsWaveUNet

        objective.bind(LyricsWaveUNet(**{**tiny_generator().config, "lyrics_hidden": 8}))
    else:
        objective.bind(tiny_generator())
    assert objective.reconstruction
    if objective.adversarial is not None:
        assert sum(p.numel() for p in objective.adversarial.parameters()) > 0
