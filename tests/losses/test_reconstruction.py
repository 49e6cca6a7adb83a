import pytest
import torch

from gansep.losses import L1, L2, Objective


def test_l1_l2_hand_values():
    estimate = torch.tensor([1.0, -2.0, 0.5, 0.0]).view(1, 2, 1, 2)
    reference = torch.tensor([0.0, 0.0, 0.5, 1.0]).view(1, 2, 1, 2)
    # |diffs| = 1, 2, 0, 1 -> mean 1.0; squares 1, 4, 0, 1 -> mean 1.5
    assert L1()(estimate, reference).item() == pytest.approx(1.0)
    assert L2()(estimate, reference).item() == pytest.approx(1.5)


def test_objective_weighted_sum_and_terms():
    estimate = torch.tensor([1.0, -2.0, 0.5, 0.0]).view(1, 2, 1, 2)
    reference = torch.zeros_like(estimate)
    total, terms = Objective([L1(weight=2.0), L2(weight=0.5)])(estimate, reference)
    assert terms["l1"].item() == pytest.approx(3.5 / 4)
    assert terms["l2"].item() == pytest.approx(5.25 / 4)
    assert total.item() == pytest.approx(2 * 3.5 / 4 + 0.5 * 5.25 / 4)


def test_objective_default_and_errors():
    assert Objective().name == "l1"
    with pytest.raises(ValueError, match="distinct names"):
        Objective([L1(), L1()])
    with pytest.raises(ValueError, match="at least one"):
        Objective([])
