"""Set and point-cloud metrics: accuracies, RMSD, pose equivariance errors, recovery."""

import pytest
import torch

from quotient.actions import permute_points, rigid_motion_and_permute_points
from quotient.groups import SE3, SymmetricGroup, homogeneous, product
from quotient.metrics.sets import (
    element_accuracy,
    permutation_recovery,
    rigid_pose_errors,
    rmsd,
    set_accuracy,
)
from quotient.nn.pose_perm import hard_sort
from quotient.nn.pose_rigid import anchor_frame


def test_element_and_set_accuracy():
    target = torch.tensor([[1, 2, 3], [4, 5, 6]])
    pred = torch.tensor([[1, 2, 3], [4, 0, 6]])
    assert element_accuracy(pred, target) == pytest.approx(5 / 6)
    assert set_accuracy(pred, target) == pytest.approx(0.5)
    mask = torch.tensor([[True, True, True], [True, False, True]])
    assert element_accuracy(pred, target, mask) == 1.0
    assert set_accuracy(pred, target, mask) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        set_accuracy(pred[:, :2], target)


def test_rmsd(gen):
    x = torch.randn(3, 4, 3, generator=gen, dtype=torch.float64)
    shifted = x + torch.tensor([0.3, 0.0, 0.4], dtype=torch.float64)
    assert torch.allclose(rmsd(shifted, x), torch.full((3,), 0.5, dtype=torch.float64))
    mask = torch.tensor([True, True, False, False]).expand(3, -1)
    garbage = shifted.clone()
    garbage[:, 2:] += 100
    assert torch.allclose(rmsd(garbage, x, mask), torch.full((3,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="rmsd"):
        rmsd(x, x[:, :2])


def _pose(x):
    r, t = anchor_frame(x)
    return homogeneous(r, t), hard_sort((x - t[:, None]).norm(dim=-1))


def test_rigid_pose_errors_vanish_for_an_equivariant_pose_and_not_for_a_broken_one(gen):
    x = torch.randn(20, 5, 3, generator=gen, dtype=torch.float64)
    g = product(SE3(scale=5.0), SymmetricGroup(5)).sample(20, generator=gen)
    moved = rigid_motion_and_permute_points(g, x)
    errs = rigid_pose_errors(_pose, x, moved, g)
    assert errs["rotation"].max() < 1e-12 and errs["translation"].max() < 1e-12
    assert errs["order"].max() == 0

    def frozen(p):
        hom, order = _pose(p)
        return torch.eye(4, dtype=p.dtype).expand_as(hom), torch.arange(5).expand_as(order)

    bad = rigid_pose_errors(frozen, x, moved, g)
    assert bad["rotation"].min() > 1e-3 and bad["order"].mean() > 0.5


def test_permutation_recovery(gen):
    x = torch.randn(30, 6, 3, generator=gen, dtype=torch.float64)
    sigma = SymmetricGroup(6).sample(30, generator=gen)
    assert permutation_recovery(lambda p: _pose(p)[1], x, sigma, permute_points) == 1.0
    by_index = permutation_recovery(lambda p: torch.arange(6).expand(p.shape[0], 6), x, sigma,
                                    permute_points)
    assert by_index < 0.2
