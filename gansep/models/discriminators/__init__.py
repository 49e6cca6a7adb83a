"""Discriminators: waveform (multi-scale, multi-period), spectral, and combinations."""

from gansep.models.discriminators.base import Discriminator, Judgement
from gansep.models.discriminators.combined import Combined
from gansep.models.discriminators.spectral import ComplexSTFT, MultiResolutionSpectral
from gansep.models.discriminators.waveform import MultiPeriod, MultiScale
from gansep.models.discriminators.waveunet import WaveUNetDiscriminator

__all__ = ["Combined", "ComplexSTFT", "Discriminator", "Judgement", "MultiPeriod",
           "MultiResolutionSpectral", "MultiScale", "WaveUNetDiscriminator"]
