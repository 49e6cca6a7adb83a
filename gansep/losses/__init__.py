"""Training objectives."""

from gansep.losses.objective import Objective
from gansep.losses.reconstruction import L1, L2, ReconstructionLoss

__all__ = ["L1", "L2", "Objective", "ReconstructionLoss"]
