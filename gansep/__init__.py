"""gansep: adversarially trained Wave-U-Net source separation."""

__version__ = "0.1.0"
