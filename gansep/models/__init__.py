"""Generators (Wave-U-Net, HT Demucs and RoFormer adapters, the lyrics head) behind one
interface, and the discriminators (`gansep.models.discriminators`)."""

import inspect

import torch

from gansep.devices import physical_memory
from gansep.errors import ConfigError
from gansep.models.demucs import HDemucs, HTDemucs
from gansep.models.generator import (Chunking, Generator, Geometry, SegmentGenerator,
                                     source_problems)
from gansep.models.lora import LoRA
from gansep.models.lyrics import LyricsWaveUNet
from gansep.models.roformer import BSRoformer, MelBandRoformer
from gansep.models.waveunet import WaveUNet
from gansep.plugins import HOW_TO_REGISTER, plugin_classes

#: The generator classes a checkpoint or an export may name: files never choose code to import.
GENERATORS = {f"gansep.models.{cls.__name__}": cls
              for cls in (WaveUNet, LyricsWaveUNet, HTDemucs, HDemucs, BSRoformer,
                          MelBandRoformer)}


def generator_classes() -> dict[str, type]:
    """``{class path: class}`` of the generators a checkpoint or export may name: gansep's
    (`GENERATORS`) and those that installed plugins export (`gansep.plugins`)."""
    plugins = {path: cls for path, cls in plugin_classes().items()
               if issubclass(cls, Generator)}
    return {**plugins, **GENERATORS}


def generator_class_path(generator: Generator) -> str:
    """The class path a checkpoint or export records for ``generator``."""
    for path, cls in generator_classes().items():
        if type(generator) is cls:
            return path
    raise ConfigError(f"{type(generator).__qualname__} ({type(generator).__module__}) is "
                      f"neither one of gansep's generator classes ({', '.join(GENERATORS)}) "
                      f"nor one that an installed plugin exports; {HOW_TO_REGISTER}")


def on_meta(cls: type, init_args: dict) -> Generator | None:
    """``cls(**init_args)`` built on torch's meta device: its parameters' shapes without their
    memory, so that a size can be checked before anything is allocated. None where the class
    cannot be built there (an adapter whose constructor computes on its tensors); a
    ConfigError of the class's own checks is raised as it is."""
    try:
        with torch.device("meta"):
            return cls(**init_args)
    except ConfigError:
        raise
    except Exception:  # noqa: BLE001 - the real build will say what is wrong, or work
        return None


def check_parameter_memory(generator: Generator | None, what: str, copies: int = 1,
                           memory: int | None = None) -> None:
    """ConfigError when ``copies`` float32 copies of ``generator``'s parameters (1: the
    weights; 4 in training with Adam: weights, gradients and two moments) exceed ``memory``
    (default: this machine's physical memory)."""
    memory = physical_memory() if memory is None else memory
    if generator is None or memory is None:
        return
    count = sum(p.numel() for p in generator.parameters())
    needed = 4 * count * copies
    if needed > memory:
        raise ConfigError(
            f"{what}: {count:,} parameters need an estimated {needed / 2**30:,.1f} GiB"
            f"{f' ({copies} float32 copies: weights, gradients, optimiser state)' if copies > 1 else ' (float32)'}"
            f", more than this machine's {memory / 2**30:.1f} GiB of memory: refused before "
            "allocating it; choose a smaller model")


def build_generator(class_path: str, init_args: dict) -> Generator:
    """The generator of a recorded class path (one of `generator_classes`) and arguments; its
    size is checked on the meta device first (`check_parameter_memory`)."""
    classes = generator_classes()
    if class_path not in classes:
        raise ConfigError(f"generator class {class_path!r} is neither one of gansep's "
                          f"({', '.join(GENERATORS)}) nor one that an installed plugin "
                          f"exports: refused; {HOW_TO_REGISTER}")
    cls = classes[class_path]
    unknown = sorted(set(init_args) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ConfigError(f"{class_path}: unknown argument(s) {', '.join(unknown)}")
    check_parameter_memory(on_meta(cls, init_args), class_path)
    generator = cls(**init_args)
    problems = source_problems(generator.sources)  # each becomes a file name
    if problems:
        raise ConfigError(f"{class_path}: {'; '.join(problems)}")
    return generator


__all__ = ["BSRoformer", "Chunking", "GENERATORS", "Generator", "Geometry", "HDemucs",
           "HTDemucs", "LoRA", "LyricsWaveUNet", "MelBandRoformer", "SegmentGenerator", "WaveUNet",
           "build_generator", "check_parameter_memory", "generator_class_path",
           "generator_classes", "on_meta"]
