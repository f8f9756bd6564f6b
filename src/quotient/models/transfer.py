"""Transfer of a (pre-trained) encoder: a property head ``y = MLP(η(x))`` trained on top of it.

:func:`fit_property_head` trains the head and the encoder together for a time budget, on
standardised targets, and reports the test mean absolute error along the way, so a pre-trained
encoder can be compared with one trained from scratch on the same budget and data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from ..nn.sets import mlp
from ..train import (
    EpochEval,
    TrainConfig,
    batch_input,
    budget_scheduler,
    fit,
    input_dataset,
    quiet_training_log,
)

__all__ = ["PropertyModel", "fit_property_head"]


class PropertyModel(nn.Module):
    """``y = MLP(η(x))``: a scalar head (two hidden layers of ``hidden``) on the code of an
    encoder ``x -> (z (B, latent_dim), features)``. The head's weights come from torch's global
    generator."""

    def __init__(self, encoder: nn.Module, latent_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = mlp([latent_dim, hidden, hidden, 1])

    def forward(self, x: Any) -> Tensor:
        return self.head(self.encoder(x)[0])[:, 0]


def _take(x: Any, sl: slice) -> Any:
    return tuple(p[sl] for p in x) if isinstance(x, (tuple, list)) else x[sl]


def _size(x: Any) -> int:
    return int((x[0] if isinstance(x, (tuple, list)) else x).shape[0])


@torch.no_grad()
def _predict(model: nn.Module, x: Any, batch_size: int = 200) -> Tensor:
    return torch.cat([model(_take(x, slice(i, i + batch_size)))
                      for i in range(0, _size(x), batch_size)])


def fit_property_head(model: nn.Module, x_train: Any, y_train: Tensor, x_test: Any,
                      y_test: Tensor, train: TrainConfig, *, minutes: float, lr: float
                      ) -> tuple[float, list[dict[str, Any]]]:
    """Train ``model`` (e.g. a :class:`PropertyModel`) to predict ``y`` for ``minutes``.

    The targets are standardised with the training mean and standard deviation; the loss is
    the mean squared error in those units. The settings of ``train`` (batch size, seed,
    optimiser, device) apply with the learning rate ``lr``, no step limit, no checkpoints, and
    a cosine over the time budget. The test MAE (in the units of ``y``) is logged every
    ``max(1, 100 // steps per epoch)`` epochs.

    Args:
        x_train, x_test: model inputs (a tensor or a tuple such as ``(positions, elements)``).
        y_train, y_test: targets ``(N,)``.

    Returns:
        ``(final test MAE, learning curve)``: the curve is the epoch records with
        ``test_mae``, ending with one at the last step.
    """
    mean, std = y_train.mean(), y_train.std()

    def mae(m: nn.Module) -> dict[str, float]:
        return {"test_mae": float((_predict(m, x_test) * std + mean - y_test).abs().mean())}

    def loss(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        value = (m(batch_input(batch)) - (batch["y"] - mean) / std).pow(2).mean()
        return value, {"mse": float(value.detach())}

    steps_per_epoch = max(1, _size(x_train) // train.batch_size)
    tcfg = dataclasses.replace(train, lr=lr, max_steps=None, progress=False, epochs=10**6,
                               time_limit_minutes=minutes, checkpoint_every=0)
    with quiet_training_log():  # the time limit is the budget, not an interruption
        result = fit(model, loss, input_dataset(x_train, y=y_train), tcfg,
                     scheduler=budget_scheduler(None, minutes),
                     callbacks=[EpochEval(mae, every=max(1, 100 // steps_per_epoch))])
    final = mae(result.model.eval())["test_mae"]
    curve = [r for r in result.history if r.get("kind") == "epoch"]
    curve.append({"kind": "epoch", "step": result.step, "test_mae": final})
    return final, curve
