"""Generators (and, later, discriminators)."""

import inspect

from gansep.errors import ConfigError
from gansep.models.demucs import HDemucs, HTDemucs
from gansep.models.generator import Chunking, Generator, Geometry, SegmentGenerator
from gansep.models.lyrics import LyricsWaveUNet
from gansep.models.roformer import BSRoformer, MelBandRoformer
from gansep.models.waveunet import WaveUNet

#: The generator classes a checkpoint or an export may name: files never choose code to import.
GENERATORS = {f"gansep.models.{cls.__name__}": cls
              for cls in (WaveUNet, LyricsWaveUNet, HTDemucs, HDemucs, BSRoformer,
                          MelBandRoformer)}


def generator_class_path(generator: Generator) -> str:
    """The class path a checkpoint or export records for ``generator``."""
    for path, cls in GENERATORS.items():
        if type(generator) is cls:
            return path
    raise ConfigError(f"{type(generator).__name__} is not a gansep generator class "
                      f"({', '.join(GENERATORS)})")


def build_generator(class_path: str, init_args: dict) -> Generator:
    """The generator of a recorded class path (one of `GENERATORS`) and arguments."""
    if class_path not in GENERATORS:
        raise ConfigError(f"generator class {class_path!r} is not one of gansep's "
                          f"({', '.join(GENERATORS)})")
    cls = GENERATORS[class_path]
    unknown = sorted(set(init_args) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ConfigError(f"{class_path}: unknown argument(s) {', '.join(unknown)}")
    return cls(**init_args)


__all__ = ["BSRoformer", "Chunking", "GENERATORS", "Generator", "Geometry", "HDemucs",
           "HTDemucs", "LyricsWaveUNet", "MelBandRoformer", "SegmentGenerator", "WaveUNet",
           "build_generator", "generator_class_path"]
