"""Evaluation: whole-track separation and BSSEval metrics."""

from gansep.eval.bsseval import bss_eval, median_over_frames
from gansep.eval.separate import separate

__all__ = ["bss_eval", "median_over_frames", "separate"]
