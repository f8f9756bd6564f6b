"""Training settings shared by every experiment."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ConfigError

__all__ = ["TrainConfig", "build_optimizer"]

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass
class TrainConfig:
    """Settings of the training loop (:func:`quotient.train.fit`).

    Attributes:
        epochs: passes over the training set.
        batch_size: global batch size; under ``torchrun`` each of the ``W`` processes takes
            ``batch_size / W`` samples of every batch (must divide evenly). The last incomplete
            batch of an epoch is dropped, so every step sees exactly ``batch_size`` samples.
        lr: learning rate.
        weight_decay: decoupled weight decay (AdamW) or L2 penalty (Adam, SGD).
        grad_clip: clip the global gradient norm to this value; ``None`` for no clipping.
        seed: seed of the data order (and of anything an experiment derives from it).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        checkpoint_every: save a checkpoint every this many steps (0: only at the end).
        log_every: append a record to ``metrics.jsonl`` every this many steps (values are means
            over the steps since the previous record).
        max_steps: stop after this many steps in total, even before ``epochs`` are done.
        time_limit_minutes: stop (with a checkpoint, resumable) after this much training time.
        progress: show a progress bar (only on a terminal, only on rank 0).
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"``.
        momentum: momentum of SGD (ignored by the Adam variants).
        tensorboard: also write every logged record as TensorBoard scalars into the run
            directory's ``tensorboard/`` folder (and, from the command line, the final metrics
            and the report's figures); needs ``pip install 'quotient[tensorboard]'``.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 500
    log_every: int = 10
    max_steps: int | None = None
    time_limit_minutes: float | None = None
    progress: bool = True
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    momentum: float = 0.0
    tensorboard: bool = False

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ConfigError(f"train.{name} must be {what}, got {getattr(self, name)!r}")

        need(self.epochs >= 1, "epochs", "at least 1")
        need(self.batch_size >= 1, "batch_size", "at least 1")
        need(math.isfinite(self.lr) and self.lr > 0, "lr", "a positive number")
        need(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", ">= 0")
        need(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "positive or none")
        need(bool(_DEVICE.match(self.device)), "device", "'auto', 'cpu', 'cuda' or 'cuda:N'")
        need(self.checkpoint_every >= 0, "checkpoint_every", ">= 0")
        need(self.log_every >= 1, "log_every", "at least 1")
        need(self.max_steps is None or self.max_steps >= 1, "max_steps", "at least 1 or none")
        need(self.time_limit_minutes is None or self.time_limit_minutes > 0,
             "time_limit_minutes", "positive or none")
        need(self.optimizer in ("adamw", "adam", "sgd"), "optimizer", "'adamw', 'adam' or 'sgd'")
        need(0 <= self.momentum < 1, "momentum", "in [0, 1)")


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainConfig
) -> torch.optim.Optimizer:
    """The optimizer named by ``config.optimizer``, with its ``lr``, ``weight_decay`` and
    ``momentum``."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)
