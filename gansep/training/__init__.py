"""LightningModules (reconstruction-only Separator, adversarial GANSeparator) and their
callbacks (validation metrics, GPU speed-ups)."""

from gansep.training.callbacks import SeparationMetrics
from gansep.training.ema import EMA
from gansep.training.gan import GANSeparator
from gansep.training.loggers import RunLogger
from gansep.training.separator import Separator
from gansep.training.speedups import SpeedUps

__all__ = ["EMA", "GANSeparator", "RunLogger", "SeparationMetrics", "Separator", "SpeedUps"]
