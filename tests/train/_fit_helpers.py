"""Helpers shared by the training-layer tests."""

from __future__ import annotations

import torch
from torch import nn

from quotient.train import seeded


def make_mlp(seed: int = 0) -> nn.Module:
    """A two-layer float64 MLP with seeded weights."""
    with seeded(seed):
        return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def mse_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Mean squared error with its root as a log."""
    loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
    return loss, {"rmse": float(loss.detach().sqrt())}
