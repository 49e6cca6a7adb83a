import numpy as np
import pytest

from gansep.eval.bsseval import bss_eval, median_over_frames
from gansep.eval.results import markdown_table, median_over_tracks


def test_bss_eval_shapes_and_perfect_estimate(rng):
    references = rng.standard_normal((2, 2, 3 * 8000)).astype(np.float32)
    noisy = references + 0.1 * rng.standard_normal(references.shape).astype(np.float32)
    scores = bss_eval(references, noisy, 8000)
    assert set(scores) == {"SDR", "ISR", "SIR", "SAR"}
    assert scores["SDR"].shape == (2, 3)
    assert np.all(scores["SDR"] > 15)


def test_bss_eval_rejects_short_audio():
    with pytest.raises(ValueError, match="shorter than one 1.0 s evaluation frame"):
        bss_eval(np.ones((1, 1, 100)), np.ones((1, 1, 100)), 8000)


def test_median_over_frames_ignores_nan():
    values = np.array([[1.0, np.nan, 3.0, 5.0], [np.nan] * 4])
    out = median_over_frames(values)
    assert out[0] == 3.0 and np.isnan(out[1])


def test_median_over_tracks_and_table():
    rows = [{"track": t, "method": "gansep", "source": "vocals", "SDR": v}
            for t, v in [("a", 1.0), ("b", 3.0), ("c", float("nan")), ("d", 10.0)]]
    medians = median_over_tracks(rows)
    assert medians[("gansep", "vocals")] == 3.0
    table = markdown_table(medians, ["vocals"], ["gansep"])
    assert "| vocals | 3.00 |" in table
