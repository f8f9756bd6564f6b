"""Types exchanged with the training loop: step context, callbacks, the fit result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from .loop import Trainer

__all__ = ["Callback", "EpochEval", "FitResult", "StepContext"]


@dataclass
class StepContext:
    """Passed as third argument to a loss function that accepts one.

    ``generator`` is seeded from ``(seed, step, rank)``, for randomness inside the loss (e.g.
    augmentation) that survives resumption; ``indices`` are the data-set indices of this rank's
    share of the batch, for per-sample randomness that does not depend on the number of ranks.
    """

    step: int
    epoch: int
    batch_in_epoch: int
    rank: int
    world_size: int
    indices: torch.Tensor
    generator: torch.Generator


class Callback:
    """Hooks into :func:`fit`; override the ones you need. They run on every rank."""

    def on_epoch_end(self, trainer: Trainer, epoch: int) -> Mapping[str, float] | None:
        """After the last step of ``epoch``; returned values are logged as an epoch record."""
        return None

    def on_log(self, trainer: Trainer, record: Mapping[str, Any]) -> None:
        """After a record was added to the history."""

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        """After a checkpoint was saved (rank 0) or would have been (other ranks)."""


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


@dataclass
class FitResult:
    """What :func:`fit` returns. ``model`` is the trained (unwrapped) module."""

    model: nn.Module
    history: list[dict[str, Any]]
    step: int
    epoch: int
    completed: bool
    stop_reason: str
    train_seconds: float
    checkpoint: Path | None = None
