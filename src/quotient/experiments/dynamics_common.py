"""Pieces shared by the dynamics experiments (``quotient dynamics NAME``): the MLP comparison
settings, the run that trains NOM, AUG and EQUI from one ``A⁰ ∈ E`` per seed, and its output
(``metrics.jsonl`` with every step, the summary in ``metrics.json``, two figures); the
penalised loss, nested run directories and saved phases of longer experiments."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..dynamics import (
    AUG,
    EQUI,
    NOM,
    Comparison,
    Objective,
    Strategy,
    compare_strategies,
    compatibility,
    subspace_layers,
)
from ..dynamics.plots import plot_distance_over_steps, plot_drift_vs_distance
from ..errors import ConfigError
from ..train import RunDir
from ..train.io import atomic_write_bytes

log = logging.getLogger("quotient.dynamics")


@dataclass
class MLPDynamicsConfig:
    """Settings shared by the MLP experiments.

    Attributes:
        n_train: training samples (full-batch gradient steps).
        hidden_copies: copies of the input representation in the hidden layer.
        steps: gradient steps per strategy.
        lr: learning rate.
        seeds: number of seeds (data draw and initial weights ``A⁰ ∈ E``).
        augment: ``"exact"`` (all ``|G|`` copies per step) or ``"stochastic"`` (``draws``
            random elements per sample per step, as in the paper).
        draws: random elements per sample per step for stochastic augmentation.
        bias: give the layers biases (they transform as ``Hom(trivial, V_out)``).
        seed: base seed; the runs use ``seed, seed + 1, ...``.
    """

    n_train: int = 200
    hidden_copies: int = 2
    steps: int = 50
    lr: float = 0.05
    seeds: int = 5
    augment: Literal["exact", "stochastic"] = "exact"
    draws: int = 25
    bias: bool = True
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`~quotient.errors.ConfigError` for values out of range."""
        for name in ("n_train", "hidden_copies", "steps", "seeds", "draws"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over outputs, averaged over samples."""
    return (pred - target).pow(2).reshape(pred.shape[0], -1).sum(1).mean()


def strategies(cfg: MLPDynamicsConfig) -> list[Strategy]:
    """NOM, AUG (exact or stochastic with ``draws``) and EQUI."""
    aug = AUG if cfg.augment == "exact" else Strategy("AUG", augment="stochastic",
                                                      draws=cfg.draws)
    return [NOM, aug, EQUI]


def run_mlp_comparison(cfg: MLPDynamicsConfig, build: Callable[[int], Objective],
                       run_dir: RunDir, title: str) -> dict[str, float]:
    """Train NOM, AUG and EQUI from the same ``A⁰ ∈ E`` per seed; write records and figures."""
    cfg.validate()
    t0 = time.perf_counter()
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    probe = build(seeds[0])
    comp = compatibility(probe.model)
    result = compare_strategies(build, strategies(cfg), seeds=seeds, steps=cfg.steps, lr=cfg.lr,
                                progress=log.info)
    metrics = finish(result, run_dir, title)
    metrics.update(commutator=comp.commutator, dim_L=comp.dim_L, dim_E=comp.dim_E,
                   seconds=time.perf_counter() - t0)
    return metrics


def finish(result: Comparison, run_dir: RunDir, title: str, *, prefix: str = "",
           xlabel: str = "step") -> dict[str, float]:
    """Write the step records and the two figures; return the summary metrics."""
    if run_dir.is_writer:
        run_dir.write_metrics_log(result.records())
        plot_distance_over_steps(result.curves("distance"), result.steps,
                                 run_dir.plot_path(f"{prefix}distance_over_steps"),
                                 title=f"{title}: distance from E", xlabel=xlabel)
        plot_drift_vs_distance(result.drift_vs_distance(),
                               run_dir.plot_path(f"{prefix}drift_vs_distance"),
                               title=f"{title}: ‖A − A⁰‖ against ‖A_E⊥‖")
    return result.summary()


def penalised(loss: Callable[[Tensor, Tensor], Tensor], model: nn.Module, *,
              weight_decay: float = 0.0, anchor: Sequence[Tensor] | None = None,
              anchor_strength: float = 0.0) -> Callable[[Tensor, Tensor], Tensor]:
    """``loss(prediction, target) + (λ/2) Σ‖A_i‖² + (γ/2) Σ‖A_i − A_i^ref‖²`` over the subspace
    layers of ``model`` (``λ = weight_decay``, ``γ = anchor_strength``, ``A^ref = anchor``).

    Both penalties are functions of the weights ``A``, not of the coefficients, so they are
    ``ρ̄``-invariant (``ρ̄`` is orthogonal, and ``ρ̄(g) A^ref = A^ref`` for ``A^ref ∈ E``): the
    augmented risk stays the group average of the risk, whatever the basis of ``L``. Their
    Hessian is ``(λ + γ) I``, so they shift every eigenvalue of both stability blocks by
    ``λ + γ``.
    """
    layers = subspace_layers(model)
    ref = None if anchor is None else [a.detach().clone() for a in anchor]
    if ref is not None and len(ref) != len(layers):
        raise ConfigError(f"the anchor has {len(ref)} weights for {len(layers)} layers")

    def total(prediction: Tensor, target: Tensor) -> Tensor:
        out = loss(prediction, target)
        weights = [layer.weight_flat() for layer in layers]
        if weight_decay:
            out = out + 0.5 * weight_decay * sum(w.pow(2).sum() for w in weights)
        if anchor_strength and ref is not None:
            out = out + 0.5 * anchor_strength * sum(
                (w - r.to(w.dtype)).pow(2).sum() for w, r in zip(weights, ref, strict=True))
        return out

    return total


@contextmanager
def nested_run(run_dir: RunDir, name: str) -> Iterator[RunDir | None]:
    """A run directory ``runs/<name>`` inside an experiment's run for one of its trainings
    (checkpoints and step records of its own); an existing one is resumed. ``None`` on
    processes that do not write."""
    if not run_dir.is_writer:
        yield None
        return
    path = run_dir.path / "runs" / name
    with RunDir(path, resume=RunDir.holds_run(path)) as sub:
        yield sub


def load_phase(run_dir: RunDir, name: str) -> dict[str, Any] | None:
    """What :func:`save_phase` stored under ``name`` (``None`` if the phase has not finished)."""
    path = run_dir.file(f"phase-{name}.pt")
    return torch.load(path, weights_only=True) if path.is_file() else None


def save_phase(run_dir: RunDir, name: str, payload: dict[str, Any]) -> None:
    """Store a finished phase (tensors, numbers, lists) atomically, so that a resumed run
    skips it."""
    if run_dir.is_writer:
        buf = io.BytesIO()
        torch.save(payload, buf)
        atomic_write_bytes(run_dir.file(f"phase-{name}.pt"), buf.getvalue())
