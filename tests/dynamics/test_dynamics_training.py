"""The theorem demonstrations in float64 on a tiny C4 CNN (exact augmentation = all 4 rotations
of every sample in each batch)."""

from __future__ import annotations

import pytest
import torch

from quotient.dynamics import (
    AUG,
    AUG_STOCHASTIC,
    EQUI,
    NOM,
    Strategy,
    SubspaceError,
    Trajectory,
    train,
)

STEPS, LR = 100, 0.05


def _run(make, support, basis, strategy, *, lr=LR, steps=STEPS, keep=False) -> Trajectory:
    objective = make(support, basis)
    return train(objective, strategy, steps=steps, lr=lr, keep_weights=keep,
                 generator=torch.Generator().manual_seed(7))


def test_cross_orthonormal_exact_aug_stays_in_E_and_follows_equi(make_cnn_problem):
    aug = _run(make_cnn_problem, "cross", "orthonormal", AUG, keep=True)
    equi = _run(make_cnn_problem, "cross", "orthonormal", EQUI, keep=True)
    assert max(aug.relative_distance) <= 1e-10
    assert max(equi.relative_distance) <= 1e-12
    gap = max(float((a - e).norm() / e.norm()) for a, e in zip(aug.weights, equi.weights,
                                                               strict=True))
    assert gap <= 1e-10
    assert aug.loss[-1] < 0.95 * aug.loss[0]  # it did train
    assert aug.drift[-1] > 1e-2


@pytest.mark.parametrize(("support", "basis"), [("skew", "orthonormal"),
                                                ("cross", "non-orthonormal")])
def test_incompatible_or_non_orthonormal_aug_leaves_E(make_cnn_problem, support, basis):
    aug = _run(make_cnn_problem, support, basis, AUG)
    assert aug.relative_distance[0] <= 1e-12
    assert aug.distance[-1] >= 1e-4
    equi = _run(make_cnn_problem, support, basis, EQUI)
    assert max(equi.relative_distance) <= 1e-12


def test_stochastic_aug_drift_shrinks_with_lr_and_nom_drifts_most(make_cnn_problem):
    lr = 0.01  # a rate at which one random rotation per sample is a small perturbation
    fast = _run(make_cnn_problem, "cross", "orthonormal", AUG_STOCHASTIC, lr=lr)
    slow = _run(make_cnn_problem, "cross", "orthonormal", AUG_STOCHASTIC, lr=lr / 10)
    nom = _run(make_cnn_problem, "cross", "orthonormal", NOM, lr=lr)
    exact = _run(make_cnn_problem, "cross", "orthonormal", AUG, lr=lr)
    assert slow.distance[-1] < 0.3 * fast.distance[-1]
    assert exact.distance[-1] < 1e-10 < slow.distance[-1]
    assert nom.distance[-1] > fast.distance[-1]


def test_regulariser_pulls_towards_E(make_cnn_problem):
    free = _run(make_cnn_problem, "skew", "orthonormal", AUG, steps=40)
    held = _run(make_cnn_problem, "skew", "orthonormal", Strategy("AUG", gamma=5.0), steps=40)
    assert held.distance[-1] < 0.5 * free.distance[-1]


def test_minibatches_and_records(make_cnn_problem):
    objective = make_cnn_problem("cross", "orthonormal", n=8)
    objective.batch_size = 4
    traj = train(objective, AUG, steps=6, lr=0.05, record_every=3,
                 generator=torch.Generator().manual_seed(0))
    assert traj.steps == [0, 3, 6]
    assert max(traj.relative_distance) <= 1e-10  # orbit-complete minibatches stay in E
    rec = traj.records()[-1]
    assert rec["strategy"] == "AUG" and "layer0_distance_to_E" in rec


def test_training_rejects_bad_settings(make_cnn_problem):
    objective = make_cnn_problem()
    with pytest.raises(SubspaceError, match="NOM, AUG or EQUI"):
        Strategy("SGD")
    with pytest.raises(SubspaceError, match="lr > 0"):
        train(objective, NOM, steps=1, lr=0.0)
    objective.symmetry = None
    with pytest.raises(SubspaceError, match="needs Objective.symmetry"):
        train(objective, AUG, steps=1, lr=0.1)
    with pytest.raises(SubspaceError, match="lower lr"):
        train(make_cnn_problem(), NOM, steps=3, lr=1e300)
