"""The version of gansep, recorded in checkpoints, exports, caches and listening tests."""

__version__ = "0.1.0"
