"""Learning-rate schedules that know about budgets: a cosine decay over a step budget or a
time budget, whichever runs out first, resumable and shared by all ranks under ``torchrun``."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist

from .hooks import FitResult

__all__ = ["BudgetCosine", "budget_scheduler", "finish_budget"]


class BudgetCosine:
    """Cosine learning-rate decay over a step budget *or* a time budget, whichever runs out first.

    ``progress = max(step / max_steps, elapsed / budget_seconds)``; the factor is a linear
    warm-up over ``warmup`` steps, then ``final + (1 − final)·(1 + cos(π·progress))/2``. So a
    run on a busy or slow machine still anneals fully before the time limit stops it (the
    trainer's ``time_limit_minutes`` should equal the budget). Elapsed time is counted between
    calls to :meth:`step` and saved in the state dict, so a resumed run continues the schedule.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, max_steps: int | None,
                 budget_seconds: float | None, *, warmup: int = 100, final: float = 0.0) -> None:
        if max_steps is None and budget_seconds is None:
            raise ValueError("BudgetCosine needs max_steps or budget_seconds")
        self.optimizer = optimizer
        self.max_steps, self.budget = max_steps, budget_seconds
        self.warmup, self.final = warmup, final
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.steps, self.elapsed = 0, 0.0
        self._last = time.perf_counter()
        self._apply()

    def progress(self) -> float:
        """Fraction of the budget used, in ``[0, 1]``."""
        p = 0.0
        if self.max_steps:
            p = self.steps / self.max_steps
        if self.budget:
            p = max(p, self.elapsed / self.budget)
        return min(p, 1.0)

    def factor(self) -> float:
        """The current multiplier of the base learning rates."""
        warm = min(1.0, (self.steps + 1) / self.warmup) if self.warmup else 1.0
        cos = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return warm * (self.final + (1.0 - self.final) * cos)

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * f

    def step(self) -> None:
        now = time.perf_counter()
        self.elapsed += now - self._last
        self._last = now
        if self.budget and dist.is_available() and dist.is_initialized():
            # every rank must use the same learning rate, or their parameters drift apart
            device = self.optimizer.param_groups[0]["params"][0].device  # nccl: on the GPU
            shared = torch.tensor([self.elapsed], dtype=torch.float64, device=device)
            dist.all_reduce(shared, op=dist.ReduceOp.MAX)
            self.elapsed = float(shared)
        self.steps += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "elapsed": self.elapsed, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps, self.elapsed = int(state["steps"]), float(state["elapsed"])
        self.base_lrs = list(state["base_lrs"])
        self._last = time.perf_counter()
        self._apply()


class budget_scheduler:  # noqa: N801 - used like a function
    """A scheduler factory for :func:`quotient.train.fit` that remembers what it built."""

    def __init__(self, max_steps: int | None, minutes: float | None, warmup: int = 100) -> None:
        self.max_steps, self.warmup = max_steps, warmup
        self.seconds = None if minutes is None else 60.0 * minutes
        self.built: BudgetCosine | None = None

    def __call__(self, optimizer: torch.optim.Optimizer) -> BudgetCosine:
        self.built = BudgetCosine(optimizer, self.max_steps, self.seconds, warmup=self.warmup)
        return self.built


def finish_budget(result: FitResult, schedule: budget_scheduler) -> FitResult:
    """Mark a fit stopped by its time limit as complete when the time budget was the schedule's
    horizon (the learning rate has annealed to its end): the budget, not an interruption."""
    built = schedule.built
    if result.stop_reason == "time_limit" and built is not None and built.progress() >= 0.999:
        return dataclasses.replace(result, completed=True, stop_reason="time_budget")
    return result
