"""What a file or option may ask of this machine: names that stay inside their folder, device
counts it has, and models whose parameters fit its memory, each refused with one line before
anything is written, started or allocated."""

from __future__ import annotations


def test_plain_names():
    import pytest

    from gansep.errors import ConfigError
    from gansep.names import check_plain_name

    for name in ("vocals", "lead vocals", "vocals.v2", "Bässe", "-x"):
        assert check_plain_name(name, "source") == name
    for name, why in (("../x", "path separator"), ("/tmp/x", "path separator"), ("a\\b", "path"),
                      ("..", "names a folder"), (".", "names a folder"), ("", "empty"),
                      ("a\0b", "control character"), ("a\nb", "control character"),
                      ("x" * 300, "longer than"), (3, "not a string")):
        with pytest.raises(ConfigError, match=why):
            check_plain_name(name, "source")


def test_a_generator_refuses_source_names_that_are_paths():
    import pytest

    from gansep.errors import ConfigError
    from gansep.models import build_generator

    with pytest.raises(ConfigError, match="sources: '../../x' holds a path separator"):
        build_generator("gansep.models.WaveUNet", {"sources": ["../../x", "accompaniment"]})
    with pytest.raises(ConfigError, match="sources: '/tmp/x'"):
        build_generator("gansep.models.HTDemucs", {"sources": ["/tmp/x", "accompaniment"]})


def test_devices_beyond_this_machine_are_refused():
    import pytest

    from gansep.devices import check_trainer_devices, usable_cores
    from gansep.errors import ConfigError

    check_trainer_devices("cpu", usable_cores())
    check_trainer_devices("auto", "auto")
    check_trainer_devices("cpu", -1)
    with pytest.raises(ConfigError, match="trainer.devices: [0-9]+ CPU training processes"):
        check_trainer_devices("cpu", 64 + usable_cores())
    with pytest.raises(ConfigError, match="CPU training processes"):
        check_trainer_devices(None, str(1000))


def test_sizes_are_checked_on_the_meta_device_before_allocation():
    import pytest

    from gansep.errors import ConfigError
    from gansep.models import WaveUNet, check_parameter_memory, on_meta

    huge = on_meta(WaveUNet, {"extra_filters": 200000})
    assert next(huge.parameters()).device.type == "meta"
    with pytest.raises(ConfigError, match="parameters need an estimated .* GiB"):
        check_parameter_memory(huge, "x")
    small = on_meta(WaveUNet, {"levels": 3, "extra_filters": 4})
    check_parameter_memory(small, "x", copies=4)
    with pytest.raises(ConfigError, match="4 float32 copies"):
        check_parameter_memory(small, "x", copies=4, memory=1000)
