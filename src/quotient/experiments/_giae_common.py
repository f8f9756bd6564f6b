"""Pieces shared by the set and point-cloud GIAE experiments: a step-or-time learning-rate
schedule, periodic evaluation, and timing."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.distributed as dist

from ..train import Callback, FitResult, Trainer

__all__ = [
    "BudgetCosine", "EpochEval", "budget_scheduler", "finish_budget", "giae_loss", "n_params",
    "quiet_training_log", "use_threads",
]


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


@contextlib.contextmanager
def use_threads(threads: int) -> Iterator[None]:
    """Use ``threads`` intra-op CPU threads inside the block (0: leave torch's setting), then
    restore the previous setting. The small networks here run fastest on one thread, and
    several threads per process slow down badly when the cores are shared."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class EpochEval(Callback):
    """Logs ``evaluate(model)`` (a dict of floats, computed in eval mode) after every
    ``every``-th epoch; the model is put back in training mode afterwards."""

    def __init__(self, evaluate: Callable[[torch.nn.Module], Mapping[str, float]],
                 every: int = 1) -> None:
        self.evaluate, self.every = evaluate, max(1, every)

    def on_epoch_end(self, trainer: Trainer, epoch: int) -> Mapping[str, float] | None:
        if (epoch + 1) % self.every:
            return None
        model = trainer.model
        model.eval()
        try:
            with torch.no_grad():
                return dict(self.evaluate(model))
        finally:
            model.train()


def n_params(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def giae_loss(model: torch.nn.Module, x: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """``GIAE.loss`` through the (possibly DistributedDataParallel-wrapped) model's forward."""
    out = model(x)
    base = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    return base.loss(x, out)


@contextlib.contextmanager
def quiet_training_log() -> Iterator[None]:
    """Silence the training loop's info and warning messages inside the block (for auxiliary
    fits such as baselines, whose time limit is their budget)."""
    logger = logging.getLogger("quotient.train")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
