"""digits-c4: a C4-invariant classifier of scikit-learn's bundled 8x8 digits.

A small CNN is applied to the four ``rot90`` copies of the input and its logits are averaged,
which makes the classifier exactly invariant to rotations by multiples of 90 degrees (up to
floating-point rounding: ``inv_err_rot90`` is about 1e-7 in float32). Trained with
cross-entropy; reports test accuracy, training time and the measured invariance error, and
plots the learning curve. Invariance has a price here: a 6 and a 9 differ by a half turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..train import (
    Callback,
    RunDir,
    TensorDictDataset,
    TrainConfig,
    Trainer,
    fit,
    load_model_state,
    mix_seed,
    saved_config,
    seeded,
)
from ..train.plots import plot_learning_curve
from . import Experiment

__all__ = ["EXPERIMENT", "C4InvariantCNN", "DigitsC4Config", "load_digits_split"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=40, batch_size=64, lr=3e-3, weight_decay=1e-4,
                       checkpoint_every=200, log_every=10)


@dataclass
class DigitsC4Config:
    """Settings of digits-c4.

    Attributes:
        train: training-loop settings.
        channels: width of the first convolution (the others use twice as many).
        hidden: width of the hidden fully connected layer.
        test_fraction: share of the 1797 digits held out for testing.
        max_train_samples: use at most this many training digits (small test runs).
        max_test_samples: use at most this many test digits.
        dtype: ``"float32"`` or ``"float64"`` for parameters and data.
    """

    train: TrainConfig = field(default_factory=_default_train)
    channels: int = 24
    hidden: int = 64
    test_fraction: float = 0.25
    max_train_samples: int | None = None
    max_test_samples: int | None = None
    dtype: Literal["float32", "float64"] = "float32"


class C4InvariantCNN(nn.Module):
    """A CNN for 1x8x8 images whose logits are averaged over the four ``rot90`` copies."""

    def __init__(self, channels: int = 16, hidden: int = 64, n_classes: int = 10) -> None:
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * c * 16, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, n_classes)`` for images of shape ``(batch, 1, 8, 8)``."""
        copies = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])
        logits = self.head(self.features(copies))
        return logits.view(4, x.shape[0], -1).mean(dim=0)


def load_digits_split(cfg: DigitsC4Config) -> dict[str, torch.Tensor]:
    """The digits as tensors ``x`` (N, 1, 8, 8) in [0, 1] and labels ``y``, split into
    train/test by a permutation seeded from ``cfg.train.seed``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DataError("digits-c4 needs scikit-learn; install it with "
                        "'pip install scikit-learn'") from exc
    if not 0 < cfg.test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {cfg.test_fraction}")
    digits = load_digits()
    dtype = getattr(torch, cfg.dtype)
    x = torch.as_tensor(digits.data, dtype=dtype).reshape(-1, 1, 8, 8) / 16.0
    y = torch.as_tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(
        mix_seed(cfg.train.seed, "digits-split")))
    n_test = round(cfg.test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    train = train[:cfg.max_train_samples] if cfg.max_train_samples else train
    test = test[:cfg.max_test_samples] if cfg.max_test_samples else test
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def build_model(cfg: DigitsC4Config) -> C4InvariantCNN:
    """The model with weights drawn from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "digits-c4-init")):
        model = C4InvariantCNN(cfg.channels, cfg.hidden)
    return model.to(getattr(torch, cfg.dtype))


def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy of the batch, with the batch accuracy as a log."""
    logits = model(batch["x"])
    loss = F.cross_entropy(logits, batch["y"])
    return loss, {"acc": (logits.argmax(dim=1) == batch["y"]).double().mean()}


@torch.no_grad()
def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy, loss and the invariance error ``max_k max_i |f(r^k x_i) - f(x_i)| / |f(x_i)|``
    (Euclidean norms of logits, k = 1, 2, 3)."""
    model.eval()
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    logits = model(x)
    err = torch.zeros((), dtype=torch.float64)
    for k in (1, 2, 3):
        moved = model(torch.rot90(x, k, dims=(-2, -1)))
        rel = (moved - logits).norm(dim=1) / logits.norm(dim=1).clamp_min(1e-30)
        err = torch.maximum(err, rel.max().double().cpu())
    return {
        "test_acc": float((logits.argmax(dim=1) == y).double().mean()),
        "test_loss": float(F.cross_entropy(logits, y)),
        "inv_err_rot90": float(err),
    }


class _EpochEval(Callback):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def on_epoch_end(self, trainer: Trainer, epoch: int) -> dict[str, float]:
        metrics = evaluate_model(trainer.model, self.x, self.y)
        return {"test_acc": metrics["test_acc"], "test_loss": metrics["test_loss"]}


def run(cfg: DigitsC4Config, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train (or resume), plot the learning curve and return the final metrics."""
    data = load_digits_split(cfg)
    model = build_model(cfg)
    train_set = TensorDictDataset(x=data["x_train"], y=data["y_train"])
    result = fit(model, loss_fn, train_set, cfg.train, run_dir, resume=resume,
                 callbacks=[_EpochEval(data["x_test"], data["y_test"])])
    metrics: dict[str, Any] = evaluate_model(result.model, data["x_test"], data["y_test"])
    metrics.update(train_seconds=result.train_seconds, steps=result.step,
                   n_params=sum(p.numel() for p in model.parameters()),
                   n_train=len(train_set), n_test=len(data["y_test"]))
    if run_dir.is_writer:
        plot_learning_curve(result.history, run_dir.plot_path("learning_curve"),
                            train_keys=("loss",), epoch_keys=("test_acc",),
                            title="digits-c4: C4-invariant CNN")
    return metrics


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the test metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, DigitsC4Config)
    data = load_digits_split(cfg)
    model = build_model(cfg)
    checkpoint = load_model_state(run_dir, model)
    metrics: dict[str, Any] = evaluate_model(model, data["x_test"], data["y_test"])
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="digits-c4",
    description="C4-invariant CNN (logits averaged over rot90 copies) on the 8x8 sklearn digits",
    config_cls=DigitsC4Config,
    run=run,
    evaluate=evaluate,
)
"""The registered experiment ``digits-c4`` (``quotient train digits-c4``): C4-invariant CNN
(logits averaged over rot90 copies) on the 8x8 sklearn digits."""
