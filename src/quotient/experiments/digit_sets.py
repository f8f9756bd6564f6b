"""digit-sets: an S_n-invariant autoencoder for multisets of 20 one-hot digits.

Model: a DeepSets encoder gives the invariant code ``z = ρ(Σ_i φ(x_i))`` (linear in the digit
counts for one-hot elements) and per-element scores ``s_i = w·φ(x_i)``; the pose is their
sorting permutation (SoftSort, straight-through in training, the exact stable sort at
evaluation); the decoder maps ``z`` to the canonical sequence of 20 digit distributions, put
back into the input order, ``x̂ = Sᵀ δ(z)``. Loss: NLL of the digits plus the SoftSort entropy.

Metrics on 10,000 held-out multisets: ``element_acc`` (digits right), ``set_acc`` (all 20
right), ``perm_recovery`` (shuffled inputs give exactly the same canonical sequence: the share
``canon_same_exact`` of the symmetry report), the report's figures, and the same accuracies for
a classical (order-dependent) autoencoder with the same decoder (``baseline_*``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..data.digit_sets import make_digit_sets
from ..metrics import SymmetryReport
from ..metrics.sets import element_accuracy, set_accuracy
from ..metrics.symmetry import apply_batched
from ..models import GIAE
from ..models.baselines import AutoEncoder
from ..models.builders import set_giae
from ..models.losses import autoencoder_loss, categorical_nll
from ..nn.sets import SetDecoder, mlp
from ..plots import plot_learning_curves
from ..train import (
    TrainConfig,
    budget_scheduler,
    fit,
    input_dataset,
    mix_seed,
    quiet_training_log,
    seeded,
)
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "DigitSetsConfig", "accuracies", "build_model",
           "classical_autoencoder"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=256, lr=1e-3, optimizer="adam", max_steps=10000,
                       time_limit_minutes=7.0, checkpoint_every=1000, log_every=50)


@dataclass
class DigitSetsConfig:
    """Settings of digit-sets: ``train`` (a cosine over ``max_steps`` or
    ``time_limit_minutes``, whichever runs out first), the multisets (``set_size``,
    ``n_classes``, ``n_train``, ``n_test``), the model (see
    :func:`~quotient.models.builders.set_giae`; ``latent_dim`` 16 has room for the digit counts
    but not for an ordered sequence), ``eval_samples`` per epoch, ``check_samples`` for the
    symmetry report, ``baseline_minutes`` for the classical autoencoder (0: skip it)."""

    train: TrainConfig = field(default_factory=_default_train)
    set_size: int = 20
    n_classes: int = 10
    n_train: int = 100_000
    n_test: int = 10_000
    latent_dim: int = 16
    hidden: int = 64
    encoder_layers: int = 0
    encoder: Literal["deepsets", "attention"] = "deepsets"
    decoder: Literal["mlp", "query"] = "mlp"
    decoder_hidden: int = 256
    decoder_layers: int = 2
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    tau: float = 1.0
    entropy_weight: float = 1.0
    eval_samples: int = 2000
    check_samples: int = 10_000
    baseline_minutes: float = 1.0
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"


def load_data(cfg: DigitSetsConfig) -> Split:
    """One-hot multisets ``(N, set_size, n_classes)``, training and held-out (other seeds)."""
    seed = mix_seed(cfg.train.seed, "digit-sets-data")
    dtype = getattr(torch, cfg.dtype)

    def onehot(n: int, s: int) -> Tensor:
        digits = make_digit_sets(n, cfg.set_size, cfg.n_classes, seed=s).digits
        return nn.functional.one_hot(digits, cfg.n_classes).to(dtype)

    return Split(onehot(cfg.n_train, seed), onehot(cfg.n_test, seed + 1), name="digit-sets")


def build_model(cfg: DigitSetsConfig, split: Split | None = None) -> GIAE:
    """The GIAE with weights from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "digit-sets-init")):
        model = set_giae(cfg.n_classes, cfg.set_size, latent_dim=cfg.latent_dim,
                         hidden=cfg.hidden, layers=cfg.encoder_layers, encoder=cfg.encoder,
                         decoder_hidden=cfg.decoder_hidden, decoder_layers=cfg.decoder_layers,
                         decoder=cfg.decoder, output="softmax", tau=cfg.tau,
                         perm_mode=cfg.perm_mode, entropy_weight=cfg.entropy_weight,
                         reconstruction_loss=categorical_nll)
    return model.to(getattr(torch, cfg.dtype))


def classical_autoencoder(cfg: DigitSetsConfig) -> AutoEncoder:
    """The order-dependent baseline: an MLP on the flattened set, the GIAE's decoder."""
    with seeded(mix_seed(cfg.train.seed, "digit-sets-baseline")):
        encoder = nn.Sequential(nn.Flatten(), mlp([cfg.set_size * cfg.n_classes,
                                                   cfg.decoder_hidden, cfg.decoder_hidden,
                                                   cfg.latent_dim]))
        decoder = SetDecoder(cfg.latent_dim, cfg.set_size, cfg.n_classes,
                             hidden=cfg.decoder_hidden, layers=cfg.decoder_layers,
                             kind=cfg.decoder, output="softmax")
    return AutoEncoder(encoder, decoder, reconstruction_loss=categorical_nll).to(
        getattr(torch, cfg.dtype))


def accuracies(model: nn.Module, x: Tensor) -> dict[str, float]:
    """Element and set accuracy of the most likely digits, and the reconstruction NLL."""
    model.eval()
    rec = apply_batched(model.reconstruct, x, 1000)
    pred, digits = rec.argmax(-1), x.argmax(-1)
    return {"element_acc": element_accuracy(pred, digits), "set_acc": set_accuracy(pred, digits),
            "rec_nll": float(categorical_nll(rec, x))}


def _baseline(cfg: DigitSetsConfig, split: Split) -> dict[str, float]:
    if cfg.baseline_minutes <= 0:
        return {}
    tcfg = dataclasses.replace(cfg.train, max_steps=None, time_limit_minutes=cfg.baseline_minutes,
                               checkpoint_every=0, progress=False)
    with quiet_training_log():  # its time limit is a budget, not an interruption
        result = fit(classical_autoencoder(cfg), autoencoder_loss, input_dataset(split.train),
                     tcfg, scheduler=budget_scheduler(None, cfg.baseline_minutes))
    acc = accuracies(result.model, split.test)
    return {"baseline_element_acc": acc["element_acc"], "baseline_set_acc": acc["set_acc"],
            "baseline_steps": result.step, "baseline_train_seconds": result.train_seconds}


def _metrics(cfg: DigitSetsConfig, model: nn.Module, split: Split,
             report: SymmetryReport) -> dict[str, Any]:
    return {**accuracies(model, split.test), "perm_recovery": report.metrics["canon_same_exact"]}


def _plots(cfg: DigitSetsConfig, model: nn.Module, split: Split, metrics: dict[str, Any],
           result: Any, run_dir: Any) -> None:
    plot_learning_curves(result.history, run_dir.plot_path("losses"),
                         keys=("rec", "perm_entropy"), title="digit-sets: training loss")
    epochs = [r for r in result.history if r.get("kind") == "epoch"]
    if epochs:
        plot_learning_curves(epochs, run_dir.plot_path("test_accuracy"),
                             keys=("test_element_acc", "test_set_acc"), log_y=False,
                             title="digit-sets: held-out accuracy")


EXPERIMENT = giae_experiment(GIAERecipe(
    name="digit-sets",
    description="S_n-invariant autoencoder (DeepSets + SoftSort pose) for multisets of 20 digits",
    config_cls=DigitSetsConfig, data=load_data, model=build_model, metrics=_metrics,
    companions=_baseline,
    epoch_metrics=lambda cfg, model, split: {
        f"test_{k}": v for k, v in accuracies(model, split.test).items() if k != "rec_nll"},
    plots=_plots))
"""The registered experiment ``digit-sets`` (``quotient train digit-sets``): S_n-invariant
autoencoder (DeepSets + SoftSort pose) for multisets of 20 digits."""
