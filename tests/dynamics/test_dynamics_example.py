"""The documented walk-through on a user's own networks, end to end: a plain C4 CNN (3×3
convolutions with bias and stride 2, a linear head) and a plain S_n MLP on adjacency matrices go
through convert → compatibility → project → NOM / AUG / EQUI → stationary point → Hessian
blocks → export, in float64."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quotient.actions import permute_graph, rot90_image
from quotient.dynamics import (
    AUG,
    AUG_STOCHASTIC,
    EQUI,
    NOM,
    Objective,
    Symmetry,
    compatibility_report,
    convert,
    export,
    fit_strategy,
    hessian_blocks,
    project_to_E,
    stationary_point,
    subspace_layers,
)
from quotient.groups import CyclicGroup, SymmetricGroup, tensor
from quotient.testing import assert_invariant
from quotient.train import TrainConfig, seeded

CONFIG = TrainConfig(epochs=2, batch_size=4, lr=0.1, optimizer="sgd", device="cpu",
                     progress=False, checkpoint_every=0)


def _walk_through(plain, group, convert_kw, x, y, act, space=None):
    net = convert(plain, group, **convert_kw, space=space)
    with torch.no_grad():
        assert float((net(x) - plain(x)).abs().max()) <= 1e-12  # the same function
    report = compatibility_report(net)
    assert report.total.compatible and report.distance > 1e-3
    with pytest.raises(AssertionError):  # the user's network is not invariant
        assert_invariant(plain, group, act, x, elements=group.elements())
    project_to_E(net)
    assert compatibility_report(net).distance <= 1e-13
    objective = Objective(net, F.cross_entropy, x, y, Symmetry(group, act))
    start = copy.deepcopy(net.state_dict())
    final = {}
    for strategy in (NOM, AUG, AUG_STOCHASTIC, EQUI):
        net.load_state_dict(start)
        traj = fit_strategy(objective, strategy, CONFIG).trajectory
        assert len(traj.distance) == 2 * len(x) // 4 + 1  # every step
        final[strategy.label] = traj.distance[-1]
    assert final["AUG"] <= 1e-12 and final["EQUI"] <= 1e-12 < final["NOM"]
    layers = subspace_layers(net)

    def risk(augment="none"):  # a small weight decay gives the cross-entropy a finite minimum
        return objective.risk(augment) + 0.01 * sum(layer.weight_flat().pow(2).sum()
                                                    for layer in layers)

    result = stationary_point(net, risk)
    assert result.converged and result.gradient_E <= 1e-10
    blocks = hessian_blocks(net, lambda: risk("exact"))
    assert blocks.stationary and blocks.gradient_E <= 1e-10
    assert blocks.off_block <= 1e-10 and blocks.e_min > 0  # compatible; a minimum in E
    plain_e = export(net)
    assert [type(m) for m in plain_e] == [type(m) for m in plain]
    assert_invariant(plain_e, group, act, x, elements=group.elements(), tol=1e-10)
    return blocks


def test_plain_c4_cnn_walk_through():
    with seeded(0):
        plain = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Tanh(),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 1, 7, 7, dtype=torch.float64, generator=gen)
    y = torch.randint(3, (8,), generator=gen)
    c4 = CyclicGroup(4)
    kw = dict(input="trivial", hidden="regular", output="trivial", spatial=rot90_image,
              input_shape=(1, 7, 7))
    blocks = _walk_through(plain, c4, kw, x, y, rot90_image)
    assert (blocks.dim_E, blocks.dim_perp) == (61, 174)


def test_plain_sn_mlp_on_adjacency_matrices_walk_through():
    s4 = SymmetricGroup(4)
    perm = s4.rep("permutation")
    with seeded(0):
        plain = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(),
                              nn.Linear(8, 2)).double()
    gen = torch.Generator().manual_seed(2)
    a = torch.triu((torch.rand(8, 4, 4, generator=gen) < 0.5).double(), 1)
    a = a + a.transpose(1, 2)
    y = torch.randint(2, (8,), generator=gen)
    kw = dict(input=tensor(perm, perm), hidden="permutation", output="trivial",
              input_shape=(4, 4))
    blocks = _walk_through(plain, s4, kw, a, y, permute_graph)
    assert blocks.dim_E == 2 * 5 + 2 + 2 * 2 + 2
