"""Generators (and, later, discriminators)."""

from gansep.models.waveunet import Geometry, WaveUNet

__all__ = ["Geometry", "WaveUNet"]
