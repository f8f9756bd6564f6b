"""Transfer of a (pre-trained) encoder: a property head ``y = MLP(η(x))`` trained on top of it.

:func:`fit_property_head` trains the head, and the encoder with its own learning rate (0: the
encoder stays frozen), for a number of optimiser steps (or, optionally, a wall-clock budget),
on standardised targets, and records the training and test mean absolute error along the way.
A pre-trained encoder can so be compared with one trained from scratch on the same step budget
and data, and the comparison does not depend on how busy the machine is.

:class:`FixedCodes` with :func:`encode_all` is the cheap frozen-encoder reading (a "probe"):
the codes are computed once and only the head is trained on them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
from torch import Tensor, nn

from ..nn.sets import mlp
from ..train import (
    Callback,
    TrainConfig,
    batch_input,
    budget_scheduler,
    fit,
    input_dataset,
    quiet_training_log,
    seeded,
)

__all__ = ["FixedCodes", "PropertyFit", "PropertyModel", "encode_all", "fit_property_head",
           "seeded_property_model"]


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


class FixedCodes(nn.Module):
    """A stand-in encoder whose input *is* the code: ``z (B, d) -> (z, None)``. With
    :func:`encode_all` it turns a frozen encoder into precomputed codes, so a probe trains
    only the head (no encoder forward per step)."""

    def forward(self, z: Tensor) -> tuple[Tensor, None]:
        return z, None


def _take(x: Any, sl: slice) -> Any:
    return tuple(p[sl] for p in x) if isinstance(x, (tuple, list)) else x[sl]


def _size(x: Any) -> int:
    return int((x[0] if isinstance(x, (tuple, list)) else x).shape[0])


@torch.no_grad()
def _predict(model: nn.Module, x: Any, batch_size: int = 200) -> Tensor:
    return torch.cat([model(_take(x, slice(i, i + batch_size)))
                      for i in range(0, _size(x), batch_size)])


@torch.no_grad()
def encode_all(encoder: nn.Module, x: Any, batch_size: int = 200) -> Tensor:
    """The codes ``z (N, d)`` of all inputs ``x`` (``N`` samples) in ``eval()`` mode."""
    was = encoder.training
    encoder.eval()
    try:
        return torch.cat([encoder(_take(x, slice(i, i + batch_size)))[0]
                          for i in range(0, _size(x), batch_size)])
    finally:
        encoder.train(was)


class _StepEval(Callback):
    """Evaluates ``maes(model)`` at every training record (every ``log_every`` steps) and
    keeps ``{"step", "mse", "train_mae", "test_mae"}`` (``mse``: the standardised training
    loss logged there); the model is put back in training mode afterwards."""

    def __init__(self, maes: Any) -> None:
        self.maes, self.records = maes, []

    def on_log(self, trainer: Any, record: Any) -> None:
        if record.get("kind") != "train":
            return
        model = trainer.model
        model.eval()
        try:
            with torch.no_grad():
                self.records.append({"step": int(record["step"]), "mse": record.get("mse"),
                                     **self.maes(model)})
        finally:
            model.train()


@dataclasses.dataclass
class PropertyFit:
    """The outcome of :func:`fit_property_head`.

    Attributes:
        test_mae: final mean absolute error on the test inputs, in the units of ``y``.
        train_mae: the same on (up to ``train_eval`` of) the training inputs.
        curve: records ``{"step", "mse", "train_mae", "test_mae"}`` at step 0 and about
            ``evals`` times along the run, the last one at the final step.
        steps: optimiser steps taken; seconds: wall-clock training time (evaluations included).
        stop_reason: ``"max_steps"``, ``"time_limit"`` (the safety limit cut a step budget
            short) or ``"time_budget"`` (a pure time budget, spent as planned).
    """

    test_mae: float
    train_mae: float
    curve: list[dict[str, Any]]
    steps: int
    seconds: float
    stop_reason: str


def fit_property_head(model: PropertyModel, x_train: Any, y_train: Tensor, x_test: Any,
                      y_test: Tensor, train: TrainConfig, *, lr: float, steps: int = 0,
                      minutes: float = 0.0, encoder_lr: float | None = None,
                      evals: int = 15, train_eval: int = 1000, curve_eval: int | None = None,
                      warmup: int = 50) -> PropertyFit:
    """Train ``model`` to predict ``y`` for ``steps`` optimiser steps (or ``minutes``).

    The targets are standardised with the training mean ``μ`` and standard deviation ``s``;
    the loss is ``mean_b ((f(x_b) − (y_b − μ)/s)²)``, and the MAE is reported as
    ``mean |s·f(x) + μ − y|`` in the units of ``y``. Adam (``train.optimizer``) with two
    parameter groups: the head at ``lr``, the encoder at ``encoder_lr`` (``None``: ``lr``;
    ``0``: frozen, its parameters get no gradient). Batch size, seed (data order) and device
    come from ``train``; no checkpoints.

    Budget: with ``steps > 0`` a cosine over the steps (after ``warmup`` linear steps), and
    ``minutes`` (if > 0) only as a safety stop, so that the figures are the same on a busy and
    on an idle machine; with ``steps == 0`` a cosine over the wall-clock budget ``minutes``
    (the older, load-dependent behaviour). The MAE is evaluated at step 0 and about ``evals``
    times along the run on the first ``curve_eval`` test and training inputs (``None``: all
    test inputs and ``train_eval`` training inputs), at the end on all test inputs and
    ``train_eval`` training inputs.

    Args:
        model: a :class:`PropertyModel` (its head initialised by the caller, seeded).
        x_train, x_test: model inputs (a tensor or a tuple such as ``(positions, elements)``).
        y_train, y_test: targets ``(N,)``.

    Raises:
        ValueError: no budget (``steps`` and ``minutes`` both 0), or negative values.
    """
    if steps < 0 or minutes < 0 or (encoder_lr is not None and encoder_lr < 0):
        raise ValueError(f"steps, minutes and encoder_lr must be >= 0, got {steps}, {minutes}, "
                         f"{encoder_lr}")
    if steps == 0 and minutes == 0:
        raise ValueError("fit_property_head needs a budget: steps > 0 or minutes > 0")
    mean, std = y_train.mean(), y_train.std()
    x_fit = _take(x_train, slice(0, train_eval))
    y_fit = y_train[:train_eval]

    def maes(m: nn.Module, n: int | None = None) -> dict[str, float]:
        sl = slice(0, n)
        x_tr, y_tr, x_te, y_te = _take(x_fit, sl), y_fit[sl], _take(x_test, sl), y_test[sl]
        return {"train_mae": float((_predict(m, x_tr) * std + mean - y_tr).abs().mean()),
                "test_mae": float((_predict(m, x_te) * std + mean - y_te).abs().mean())}

    def loss(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        value = (m(batch_input(batch)) - (batch["y"] - mean) / std).pow(2).mean()
        return value, {"mse": float(value.detach())}

    enc_lr = lr if encoder_lr is None else encoder_lr
    for p in model.encoder.parameters():  # a frozen encoder: no gradients, no optimiser state
        p.requires_grad_(enc_lr > 0)
    groups = [{"params": list(model.head.parameters()), "lr": lr}]
    enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
    if enc_params:
        groups.append({"params": enc_params, "lr": enc_lr})

    def optimizer(_params: Any) -> torch.optim.Optimizer:
        kind = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}.get(train.optimizer)
        if kind is None:
            return torch.optim.SGD(groups, lr=lr, momentum=train.momentum,
                                   weight_decay=train.weight_decay)
        return kind(groups, lr=lr, weight_decay=train.weight_decay)

    horizon = steps if steps else None
    time_limit = minutes if minutes else None
    # evaluation every `every` steps (the training records' interval); a time budget has no
    # known length, so it is evaluated every 100 steps
    every = max(1, steps // max(evals, 1)) if steps else 100
    tcfg = dataclasses.replace(train, lr=lr, max_steps=horizon, progress=False, epochs=10**6,
                               time_limit_minutes=time_limit, checkpoint_every=0,
                               log_every=every)
    # the schedule follows the steps alone when there are steps: a time term would make the
    # learning rate, and so the figures, depend on the machine's load
    schedule = budget_scheduler(horizon, None if horizon else time_limit,
                                min(warmup, max(1, (steps or 1000) // 5)))
    evaluate = _StepEval(lambda m: maes(m, curve_eval))
    started = time.perf_counter()
    with torch.no_grad():  # the starting point: what the untrained head reads from the codes
        evaluate.records.append({"step": 0, **maes(model.eval(), curve_eval)})
    model.train()
    with quiet_training_log():  # a time limit here is a budget or a safety, not a failure
        result = fit(model, loss, input_dataset(x_train, y=y_train), tcfg, optimizer=optimizer,
                     scheduler=schedule, callbacks=[evaluate])
    seconds = time.perf_counter() - started
    curve = [r for r in evaluate.records if r["step"] != result.step]
    final = maes(result.model.eval())
    curve.append({"step": result.step, **final})
    reason = result.stop_reason
    if reason == "time_limit" and horizon is None:
        reason = "time_budget"
    return PropertyFit(final["test_mae"], final["train_mae"], curve, result.step, seconds,
                       str(reason))


def seeded_property_model(encoder: nn.Module, latent_dim: int, seed: int,
                          hidden: int = 128) -> PropertyModel:
    """A :class:`PropertyModel` whose head is initialised from ``seed`` (the encoder as
    given)."""
    with seeded(seed):
        return PropertyModel(encoder, latent_dim, hidden)
