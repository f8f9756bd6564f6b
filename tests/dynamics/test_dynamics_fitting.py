"""NOM / AUG / EQUI of a converted network through quotient.train.fit: the theorem's
behaviour, drift at every step, checkpoints and an exact resume."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quotient.actions import rot90_image
from quotient.dynamics import (
    AUG,
    AUG_STOCHASTIC,
    EQUI,
    NOM,
    Objective,
    Strategy,
    SubspaceError,
    Symmetry,
    convert,
    distance_to_E,
    fit_strategy,
    project_to_E,
)
from quotient.groups import CyclicGroup
from quotient.train import RunDir, TrainConfig

C4 = CyclicGroup(4)


def _problem(space=None, seed: int = 0) -> Objective:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        plain = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                              nn.Linear(4 * 4 * 4, 3)).double()
    net = convert(plain, C4, input="trivial", hidden="regular", output="trivial",
                  spatial=rot90_image, input_shape=(1, 7, 7), space=space, weights="project")
    project_to_E(net)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(8, 1, 7, 7, dtype=torch.float64, generator=gen)
    y = torch.randint(3, (8,), generator=gen)
    return Objective(net, F.cross_entropy, x, y, Symmetry(C4, rot90_image))


def _config(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=4, lr=0.2, optimizer="sgd", device="cpu", progress=False,
                checkpoint_every=0)
    return TrainConfig(**{**base, **kw})


def test_strategies_on_a_compatible_space():
    objective = _problem("cross")
    start = copy.deepcopy(objective.model.state_dict())
    runs = {}
    for strategy in (NOM, AUG, AUG_STOCHASTIC, EQUI):
        objective.model.load_state_dict(start)
        runs[strategy.label] = fit_strategy(objective, strategy, _config()).trajectory
    steps = 3 * 2
    for traj in runs.values():
        assert traj.steps == list(range(steps + 1))  # recorded at every step
        assert traj.distance[0] <= 1e-14 and len(traj.layer_distance[0]) == 4
    # exact AUG over orbit-complete minibatches keeps a compatible, orthonormal L in E
    assert max(runs["AUG"].distance) <= 1e-12
    assert max(runs["EQUI"].distance) <= 1e-12
    assert runs["AUG"].drift[-1] > 1e-2  # it moved, inside E
    # and follows EQUI: the same E-projected gradient steps
    assert runs["AUG"].loss == pytest.approx(runs["EQUI"].loss, abs=1e-12)
    assert runs["NOM"].distance[-1] > 1e-3
    assert runs["AUG-stoch"].distance[-1] > 1e-6


def test_skew_space_leaves_E_under_exact_aug_and_adam_equi_stays():
    objective = _problem("skew")
    start = copy.deepcopy(objective.model.state_dict())
    aug = fit_strategy(objective, AUG, _config()).trajectory
    assert aug.distance[-1] > 1e-4
    objective.model.load_state_dict(start)
    equi = fit_strategy(objective, EQUI, _config(optimizer="adam", lr=0.05)).trajectory
    assert max(equi.distance) <= 1e-12 and equi.drift[-1] > 1e-2
    objective.model.load_state_dict(start)
    reg = fit_strategy(objective, Strategy("AUG", gamma=50.0), _config(lr=0.01)).trajectory
    plain = fit_strategy(objective, AUG, _config(lr=0.01)).trajectory
    assert reg.distance[-1] < plain.distance[-1]  # the regulariser pulls towards E


def test_checkpoint_and_resume_give_the_uninterrupted_run(tmp_path):
    objective = _problem()
    start = copy.deepcopy(objective.model.state_dict())
    full = fit_strategy(objective, AUG_STOCHASTIC, _config(), RunDir(tmp_path / "full"))
    final = copy.deepcopy(objective.model.state_dict())
    objective.model.load_state_dict(start)
    first = RunDir(tmp_path / "cut")
    fit_strategy(objective, AUG_STOCHASTIC, _config(max_steps=3, checkpoint_every=2), first)
    getattr(first, "close", lambda: None)()
    # a fresh process would rebuild the model at its start; the checkpoint replaces the weights
    objective.model.load_state_dict(start)
    with torch.no_grad():
        for p in objective.model.parameters():
            p.add_(1.0)  # even a different starting point: A⁰ comes from the run directory
    rest = fit_strategy(objective, AUG_STOCHASTIC, _config(), RunDir(tmp_path / "cut",
                                                                     resume=True), resume=True)
    assert rest.result.step == 6
    for key, value in final.items():
        assert torch.equal(objective.model.state_dict()[key], value), key
    assert rest.trajectory.distance == full.trajectory.distance
    assert rest.trajectory.drift == full.trajectory.drift
    assert (tmp_path / "cut" / "metrics.jsonl").read_text().count('"distance_to_E"') == 6


def test_bad_input():
    objective = _problem()
    objective.symmetry = None
    with pytest.raises(SubspaceError, match="symmetry"):
        fit_strategy(objective, AUG, _config())
    with pytest.raises(SubspaceError, match="CPU"):
        fit_strategy(_problem(), NOM, _config(device="cuda"))
    with pytest.raises(SubspaceError, match="no subspace layers"):
        fit_strategy(Objective(nn.Linear(2, 1), F.mse_loss, torch.zeros(4, 2), torch.zeros(4, 1)),
                     NOM, _config())
    assert distance_to_E(_problem().model) <= 1e-14


def test_a_scheduler_sets_the_learning_rate_of_every_step():
    objective = _problem()

    def stop_after_two(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 if step < 2 else 0.0)

    traj = fit_strategy(objective, NOM, _config(), scheduler=stop_after_two).trajectory
    assert traj.drift[1] > 0 and traj.drift[2] > traj.drift[1]
    assert traj.drift[2:] == [traj.drift[2]] * (len(traj.drift) - 2)  # lr 0 from step 2 on
