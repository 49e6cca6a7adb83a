"""Experiments over many runs: sweeps and the comparison of objectives."""
