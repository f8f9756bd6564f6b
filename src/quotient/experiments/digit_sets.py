"""digit-sets: an S_n-invariant autoencoder for multisets of 20 one-hot digits.

Model (Part A of the method, S_n): a DeepSets encoder gives the invariant code
``z = ρ(Σ_i φ(x_i))`` — for one-hot elements ``Σ_i φ(x_i) = Σ_k c_k φ(e_k)`` is linear in the digit
counts ``c``, so the multiset is recoverable from the start — and per-element scores
``s_i = w·φ(x_i)``; the pose is the sorting permutation of the scores (SoftSort relaxation with a
straight-through hard permutation in training, the exact stable sort at evaluation, no noise);
the decoder maps ``z`` to the canonical (sorted) sequence of 20 digit distributions, and the
reconstruction is that sequence put back into the input order, ``x̂ = Sᵀ δ(z)``. Loss: negative
log-likelihood of the input digits under ``x̂`` plus the SoftSort entropy (weight 1).

Metrics on 10,000 held-out multisets: ``element_acc`` (digits right), ``set_acc`` (all 20
right), ``inv_err_exact`` (relative change of z under random permutations), ``perm_recovery``
(shuffled inputs give exactly the same canonical sequence), and the same accuracies for a
classical (order-dependent) autoencoder with the same decoder (``baseline_*``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import permute_set
from ..data.digit_sets import make_digit_sets
from ..groups import SymmetricGroup
from ..metrics.representation import reconstruction_mse
from ..metrics.sets import element_accuracy, set_accuracy
from ..metrics.symmetry import apply_batched, invariance_error
from ..models import GIAE
from ..nn.pose_perm import PermutationPose, sort_rows
from ..nn.sets import SetDecoder, SetEncoder, mlp
from ..plots import plot_learning_curves
from ..train import (
    RunDir,
    TensorDictDataset,
    TrainConfig,
    fit,
    load_model_state,
    mix_seed,
    saved_config,
    seeded,
)
from . import Experiment
from ._giae_common import (
    EpochEval,
    budget_scheduler,
    finish_budget,
    giae_loss,
    n_params,
    quiet_training_log,
    use_threads,
)

__all__ = ["EXPERIMENT", "ClassicalSetAE", "DigitSetsConfig", "build_model", "evaluate_model"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=256, lr=1e-3, optimizer="adam", max_steps=10000,
                       time_limit_minutes=7.0, checkpoint_every=1000, log_every=50)


@dataclass
class DigitSetsConfig:
    """Settings of digit-sets.

    Attributes:
        train: training-loop settings; the learning rate follows a cosine over ``max_steps`` or
            ``time_limit_minutes``, whichever runs out first.
        set_size, n_classes: elements per multiset and digit classes.
        n_train, n_test: training and held-out multisets (drawn with different seeds).
        latent_dim: size of z (16: room for the digit counts, 9 free numbers, but not for an
            ordered sequence of 20 digits; the reference code uses 8).
        hidden: width of the element network φ; encoder_layers: equivariant layers after it.
        encoder: ``"deepsets"`` or ``"attention"``.
        decoder: ``"mlp"`` (one MLP to all slots) or ``"query"`` (a shared MLP per slot).
        decoder_hidden, decoder_layers: size of the decoder.
        perm_mode: SoftSort relaxation in training (``"soft"``, ``"straight_through"``, ``"hard"``).
        tau: SoftSort temperature; entropy_weight: weight of the row/column entropy penalty.
        eval_samples: held-out multisets evaluated after every epoch (learning curve).
        baseline_minutes: training time of the classical autoencoder (0: skip it).
        threads: CPU threads per process (0: torch's default); small models run fastest on one.
        dtype: ``"float32"`` or ``"float64"``.
    """

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
    baseline_minutes: float = 1.0
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"


def nll(reconstruction: Tensor, x: Tensor) -> Tensor:
    """Mean over elements of ``−Σ_k x_k log x̂_k`` (inputs one-hot, reconstructions
    distributions)."""
    return -(x * torch.log(reconstruction.clamp_min(1e-9))).sum(-1).mean()


def build_model(cfg: DigitSetsConfig) -> GIAE:
    """The GIAE with weights from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "digit-sets-init")):
        model = GIAE(
            SetEncoder(cfg.n_classes, cfg.latent_dim, hidden=cfg.hidden, layers=cfg.encoder_layers,
                       kind=cfg.encoder, n=cfg.set_size),
            PermutationPose(tau=cfg.tau, mode=cfg.perm_mode),
            SetDecoder(cfg.latent_dim, cfg.set_size, cfg.n_classes, hidden=cfg.decoder_hidden,
                       layers=cfg.decoder_layers, kind=cfg.decoder, output="softmax"),
            reconstruction_loss=nll, penalty_weights={"perm_entropy": cfg.entropy_weight})
    return model.to(getattr(torch, cfg.dtype))


class ClassicalSetAE(nn.Module):
    """The order-dependent baseline: an MLP on the flattened set, the same decoder."""

    def __init__(self, cfg: DigitSetsConfig) -> None:
        super().__init__()
        self.encoder = mlp([cfg.set_size * cfg.n_classes, cfg.decoder_hidden, cfg.decoder_hidden,
                            cfg.latent_dim])
        self.decoder = SetDecoder(cfg.latent_dim, cfg.set_size, cfg.n_classes,
                                  hidden=cfg.decoder_hidden, layers=cfg.decoder_layers,
                                  kind=cfg.decoder, output="softmax")

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x.flatten(1)))


def _onehot(digits: Tensor, cfg: DigitSetsConfig) -> Tensor:
    return nn.functional.one_hot(digits, cfg.n_classes).to(getattr(torch, cfg.dtype))


def _data(cfg: DigitSetsConfig) -> tuple[Tensor, Tensor]:
    seed = mix_seed(cfg.train.seed, "digit-sets-data")
    train = make_digit_sets(cfg.n_train, cfg.set_size, cfg.n_classes, seed=seed).digits
    test = make_digit_sets(cfg.n_test, cfg.set_size, cfg.n_classes, seed=seed + 1).digits
    return train, test


def _reconstruct(model: nn.Module, x: Tensor) -> Tensor:
    return model(x).reconstruction if isinstance(model, GIAE) else model(x)


@torch.no_grad()
def evaluate_model(model: nn.Module, digits: Tensor, cfg: DigitSetsConfig,
                   full: bool = True) -> dict[str, float]:
    """Element/set accuracy and reconstruction NLL on ``digits (N, n)``; with ``full`` also the
    invariance error of z and the permutation recovery on shuffled copies (GIAE only)."""
    model.eval()
    x = _onehot(digits, cfg)
    rec = apply_batched(lambda b: _reconstruct(model, b), x, 1000)
    pred = rec.argmax(-1)
    out = {"element_acc": element_accuracy(pred, digits), "set_acc": set_accuracy(pred, digits),
           "rec_nll": float(nll(rec, x)), "rec_mse": reconstruction_mse(
               lambda b: _reconstruct(model, b), x, batch_size=1000)}
    if full and isinstance(model, GIAE):
        gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "digit-sets-eval"))
        sigma = SymmetricGroup(cfg.set_size).sample(x.shape[0], generator=gen)
        out["inv_err_exact"] = invariance_error(lambda b: model(b).z, x, permute_set, sigma,
                                                reduce="max", batch_size=1000)

        def canonical(b: Tensor) -> Tensor:
            return sort_rows(model.encode(b)[1].matrix, b)

        same = apply_batched(canonical, x, 1000) == apply_batched(
            canonical, permute_set(sigma, x), 1000)
        out["perm_recovery"] = float(same.flatten(1).all(dim=1).double().mean())
    return out


def _train_baseline(cfg: DigitSetsConfig, train: Tensor, test: Tensor) -> dict[str, float]:
    with seeded(mix_seed(cfg.train.seed, "digit-sets-baseline")):
        model = ClassicalSetAE(cfg).to(getattr(torch, cfg.dtype))
    tcfg = dataclasses.replace(cfg.train, max_steps=None, time_limit_minutes=cfg.baseline_minutes,
                               checkpoint_every=0, progress=False)

    def loss(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        x = _onehot(batch["digits"], cfg)
        value = nll(m(x), x)
        return value, {"rec": float(value.detach())}

    schedule = budget_scheduler(None, cfg.baseline_minutes)
    with quiet_training_log():  # its time limit is a budget, not an interruption
        result = fit(model, loss, TensorDictDataset(digits=train), tcfg, scheduler=schedule)
    metrics = evaluate_model(result.model, test, cfg, full=False)
    return {"baseline_element_acc": metrics["element_acc"],
            "baseline_set_acc": metrics["set_acc"], "baseline_steps": result.step,
            "baseline_train_seconds": result.train_seconds}


def run(cfg: DigitSetsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train the GIAE (resumable), then the classical baseline; return the metrics."""
    with use_threads(cfg.threads):
        return _run(cfg, run_dir, resume)


def _run(cfg: DigitSetsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    train, test = _data(cfg)
    model = build_model(cfg)

    def loss_fn(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return giae_loss(m, _onehot(batch["digits"], cfg))

    probe = test[:cfg.eval_samples]
    callback = EpochEval(lambda m: {f"test_{k}": v for k, v in
                                    evaluate_model(m, probe, cfg, full=False).items()
                                    if k in ("element_acc", "set_acc")})
    schedule = budget_scheduler(cfg.train.max_steps, cfg.train.time_limit_minutes)
    result = fit(model, loss_fn, TensorDictDataset(digits=train), cfg.train, run_dir,
                 resume=resume, callbacks=[callback], scheduler=schedule)
    result = run_dir.last_fit = finish_budget(result, schedule)
    started = time.perf_counter()
    metrics: dict[str, Any] = evaluate_model(result.model, test, cfg)
    metrics.update(train_seconds=result.train_seconds, steps=result.step,
                   ms_per_step=1000 * result.train_seconds / max(result.step, 1),
                   eval_seconds=time.perf_counter() - started, n_params=n_params(model),
                   n_train=cfg.n_train, n_test=cfg.n_test, stop_reason=result.stop_reason)
    if cfg.baseline_minutes > 0:
        metrics.update(_train_baseline(cfg, train, test))
    if run_dir.is_writer:
        plot_learning_curves(result.history, run_dir.plot_path("learning_curve"),
                             keys=("rec", "perm_entropy"), title="digit-sets: training loss")
        epochs = [r for r in result.history if r.get("kind") == "epoch"]
        if epochs:
            plot_learning_curves(epochs, run_dir.plot_path("test_accuracy"),
                                 keys=("test_element_acc", "test_set_acc"), log_y=False,
                                 title="digit-sets: held-out accuracy")
    return metrics


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the GIAE metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, DigitSetsConfig)
    _, test = _data(cfg)
    model = build_model(cfg)
    checkpoint = load_model_state(run_dir, model)
    metrics: dict[str, Any] = evaluate_model(model, test, cfg)
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="digit-sets",
    description="S_n-invariant autoencoder (DeepSets + SoftSort pose) for multisets of 20 digits",
    config_cls=DigitSetsConfig,
    run=run,
    evaluate=evaluate,
)
