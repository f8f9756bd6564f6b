"""An optimiser that trains a GIAE's pose network at its own learning rate.

A canonical order only has to be *consistent*: a pose network μ at its random initialisation
already gives one, and training it makes the order drift, so the decoder chases a moving target
(see ``docs/giae_graphs.md``). :func:`pose_lr_optimizer` puts μ's parameters in their own
parameter group at ``scale × lr`` (``scale = 0`` keeps μ fixed while it stays a parameter of
the model); a budget schedule scales every group's rate by the same factor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..train import TrainConfig, build_optimizer

__all__ = ["pose_lr_optimizer"]


def pose_lr_optimizer(model: nn.Module, train: TrainConfig, scale: float
                      ) -> Callable[[Any], torch.optim.Optimizer] | None:
    """``params -> optimizer`` for :func:`~quotient.train.fit`: the optimiser of ``train``
    with the pose network (``model.encoder.pose_parameters()``, e.g. of a
    :class:`~quotient.nn.graphs.GraphEncoder`) in a second group at ``scale × train.lr``.

    Returns ``None`` (fit's default optimiser) for a model whose encoder has no separate pose
    network.
    """
    pose_parameters = getattr(getattr(model, "encoder", None), "pose_parameters", None)
    if pose_parameters is None:
        return None
    pose = {id(p) for p in pose_parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in pose]},
              {"params": [p for p in model.parameters() if id(p) in pose],
               "lr": train.lr * scale}]
    return lambda _params: build_optimizer(groups, train)  # type: ignore[arg-type]
