"""Training objectives: reconstruction terms, GAN losses, and the Objective that sums them."""

from gansep.losses.adversarial import (GAN, AdversarialLoss, Hinge, LSGAN, NonSaturating,
                                       Wasserstein, feature_matching)
from gansep.losses.lyrics import Lyrics
from gansep.losses.objective import Objective
from gansep.losses.reconstruction import L1, L2, SISDR, MultiResolutionSTFT, ReconstructionLoss

__all__ = ["GAN", "AdversarialLoss", "Hinge", "L1", "L2", "LSGAN", "Lyrics", "MultiResolutionSTFT",
           "NonSaturating", "Objective", "ReconstructionLoss", "SISDR", "Wasserstein",
           "feature_matching"]
