"""The step-or-time cosine schedule of the GIAE experiments."""

import math

import pytest
import torch

from quotient.train import BudgetCosine, FitResult, budget_scheduler, finish_budget


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_step_budget_cosine():
    opt = _opt()
    sched = BudgetCosine(opt, max_steps=10, budget_seconds=None, warmup=0)
    lrs = []
    for _ in range(10):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[4] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_time_budget_and_state_round_trip():
    opt = _opt()
    sched = BudgetCosine(opt, max_steps=10**9, budget_seconds=1e-9, warmup=0)
    sched.step()
    assert sched.progress() == 1.0 and opt.param_groups[0]["lr"] == pytest.approx(0.0)
    fresh = BudgetCosine(_opt(), max_steps=10, budget_seconds=None, warmup=0)
    state = BudgetCosine(_opt(), max_steps=10, budget_seconds=None, warmup=0)
    for _ in range(4):
        state.step()
    fresh.load_state_dict(state.state_dict())
    assert fresh.progress() == pytest.approx(0.4)


def test_warmup_and_errors():
    opt = _opt(2.0)
    BudgetCosine(opt, max_steps=100, budget_seconds=None, warmup=10)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="max_steps or budget_seconds"):
        BudgetCosine(opt, None, None)


def test_finish_budget_only_when_the_schedule_ran_out():
    model = torch.nn.Linear(1, 1)
    stopped = FitResult(model, [], 5, 0, False, "time_limit", 1.0)
    factory = budget_scheduler(None, 1e-12)
    sched = factory(_opt())
    sched.step()
    assert finish_budget(stopped, factory).completed
    early = budget_scheduler(None, 60.0)
    early(_opt()).step()
    assert not finish_budget(stopped, early).completed
