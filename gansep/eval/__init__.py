"""Evaluation: BSSEval v4 and the other metrics, and resumable scoring of whole tracks."""

from gansep.eval.bsseval import bss_eval, median_over_frames

__all__ = ["bss_eval", "median_over_frames"]
