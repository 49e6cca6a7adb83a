"""LightningModules: reconstruction-only (Separator) and adversarial (GANSeparator)."""

from gansep.training.callbacks import SeparationMetrics
from gansep.training.ema import EMA
from gansep.training.gan import GANSeparator
from gansep.training.separator import Separator

__all__ = ["EMA", "GANSeparator", "SeparationMetrics", "Separator"]
