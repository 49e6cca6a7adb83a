"""LightningModules."""

from gansep.training.separator import Separator

__all__ = ["Separator"]
