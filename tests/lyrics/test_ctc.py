"""CTC targets for windows that cut lines, empty targets, and the Lyrics term."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gansep.losses.lyrics import Lyrics, Segment, ctc_segments

# Ten frames at 0.1 s steps covering a 1 s window, one frame before it.
TIMES = torch.arange(-1, 10) * 0.1 + 0.05


def test_lines_inside_the_window_get_their_frames_and_the_rest_is_blank():
    lines = [[(0.2, 0.45, [3, 4]), (0.6, 0.8, [5])]]
    segments = ctc_segments(TIMES, 1.0, lines)
    # frame k (index k + 1 here) sits at 0.1 k + 0.05
    assert Segment(0, 3, 5, (3, 4)) in segments      # frames at 0.25, 0.35 (0.45 excluded)
    assert Segment(0, 7, 9, (5,)) in segments        # 0.65, 0.75
    blanks = [s for s in segments if not s.target]
    assert [(s.first, s.stop) for s in blanks] == [(1, 3), (5, 7), (9, 11)]
    assert all(s.first >= 1 for s in segments)       # never the frame before the window


def test_a_line_cut_by_the_window_is_left_out_but_the_excerpt_is_kept():
    lines = [[(-0.3, 0.25, [7, 7]), (0.5, 0.7, [2]), (0.9, 1.4, [9])]]
    segments = ctc_segments(TIMES, 1.0, lines)
    assert [s.target for s in segments if s.target] == [(2,)]
    covered = {k for s in segments for k in range(s.first, s.stop)}
    assert not {1, 2, 3} & covered                    # under the cut first line (to 0.25 s)
    assert 10 not in covered                          # under the cut last line
    assert {4, 5, 8, 9} <= covered                    # the gaps are blank


def test_no_line_is_one_empty_target_over_the_window():
    assert ctc_segments(TIMES, 1.0, [[], []]) == [Segment(0, 1, 11, ()), Segment(1, 1, 11, ())]


def test_lyrics_term_is_ctc_per_frame_with_gradients():
    torch.manual_seed(0)
    logits = torch.randn(2, 11, 6, requires_grad=True)
    log_probs = logits.log_softmax(-1)
    segments = [Segment(0, 2, 8, (1, 2, 2)), Segment(1, 1, 11, ()), Segment(0, 8, 11, ())]
    term = Lyrics(weight=0.5)
    value = term(log_probs, segments)
    expected = sum(F.ctc_loss(log_probs[s.example, s.first:s.stop].unsqueeze(1),
                              torch.tensor([list(s.target)], dtype=torch.long),
                              torch.tensor([s.stop - s.first]), torch.tensor([len(s.target)]),
                              reduction="sum") for s in segments) / (6 + 10 + 3)
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    value.backward()
    assert logits.grad.abs().sum() > 0 and torch.isfinite(logits.grad).all()
    assert term.infeasible == 0


def test_infeasible_targets_count_and_contribute_nothing():
    log_probs = torch.randn(1, 4, 5).log_softmax(-1)
    term = Lyrics()
    value = term(log_probs, [Segment(0, 0, 2, (1, 1))])  # needs 3 frames for "aa"
    assert term.infeasible == 1 and value.item() == 0.0
    assert Lyrics()(log_probs, []).item() == 0.0
