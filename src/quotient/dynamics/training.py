"""The three training strategies of the same network: NOM, AUG and EQUI.

With coefficients ``c`` and weights ``A = B c`` (per layer), one step of each strategy is

| strategy | coefficient step | weight step (orthonormal ``B``) |
|---|---|---|
| NOM  | ``c ← c − η ∇_c R``                    | ``A ← A − η Π_L ∇R``        |
| AUG  | ``c ← c − η ∇_c R^aug``                | ``A ← A − η Π_L ∇R^aug``    |
| EQUI | ``c ← c − η P_{C_E} ∇_c R``            | ``A ← A − η Π_E ∇R``        |

with ``∇_c = Bᵀ ∇_A`` and ``P_{C_E}`` the orthogonal projection onto ``{c : B c ∈ E}``. A
non-orthonormal ``B`` gives ``Ȧ = −B Bᵀ ∇R^aug`` for AUG: the same stationary points, but ``E``
is no longer invariant. ``R^aug`` is either **exact** (all ``|G|`` transformed copies of every
sample in one batched pass, finite groups) or **stochastic** (``draws`` random elements per
sample per step). An optional regulariser adds ``(γ/2) ‖A − Π_E A‖²`` to the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..groups import Element
from ..symmetry import Symmetry
from ._errors import SubspaceError
from .layers import SubspaceLayer, subspace_layers

AUGMENT_MODES = ("none", "exact", "stochastic")


def _tile(g: Element, n: int) -> Element:
    if isinstance(g, tuple):
        return tuple(_tile(p, n) for p in g)
    return g.repeat(n, *([1] * (g.dim() - 1)))


@dataclass
class Objective:
    """A network, a loss and data: evaluates ``R``, exact ``R^aug`` or a stochastic estimate.

    Attributes:
        model: a module with subspace layers.
        loss: ``loss(prediction, target)`` averaged over the batch.
        x, y: the training data (first dimension = samples).
        symmetry: the action of ``G`` on ``(x, y)`` (needed for augmentation).
        batch_size: minibatch size; ``None`` for full-batch steps.
    """

    model: nn.Module
    loss: Callable[[Tensor, Tensor], Tensor]
    x: Tensor
    y: Tensor
    symmetry: Symmetry | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise SubspaceError(f"x has {self.x.shape[0]} samples but y has {self.y.shape[0]}")
        if not torch.isfinite(self.x).all():
            raise SubspaceError("x contains NaN or infinite values")

    def risk(self, augment: str = "none", idx: Tensor | None = None, *,
             generator: torch.Generator | None = None, draws: int = 1) -> Tensor:
        """The empirical risk on ``idx`` (all samples by default) with the given augmentation."""
        if augment not in AUGMENT_MODES:
            raise SubspaceError(f"augment must be one of {AUGMENT_MODES}, got {augment!r}")
        x, y = (self.x, self.y) if idx is None else (self.x[idx], self.y[idx])
        if augment != "none":
            if self.symmetry is None:
                raise SubspaceError("augmentation needs Objective.symmetry")
            x, y = (self.symmetry.orbit(x, y) if augment == "exact"
                    else self.symmetry.random(x, y, generator, draws))
        return self.loss(self.model(x), y)


@dataclass(frozen=True)
class Strategy:
    """A training strategy: ``"NOM"``, ``"AUG"`` or ``"EQUI"``.

    Attributes:
        name: the dynamics.
        augment: for AUG, ``"exact"`` (all |G| copies) or ``"stochastic"``.
        draws: for stochastic AUG, random elements per sample per step.
        gamma: weight of the regulariser ``(γ/2)‖A − Π_E A‖²``.
    """

    name: str
    augment: str = "exact"
    draws: int = 1
    gamma: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ("NOM", "AUG", "EQUI"):
            raise SubspaceError(f"strategy must be NOM, AUG or EQUI, got {self.name!r}")
        if self.augment not in ("exact", "stochastic"):
            raise SubspaceError(f"augment must be 'exact' or 'stochastic', got {self.augment!r}")
        if self.draws < 1 or self.gamma < 0:
            raise SubspaceError("draws must be >= 1 and gamma >= 0")

    @property
    def label(self) -> str:
        """A short name for plots: ``NOM``, ``AUG``, ``AUG-stoch``, ``EQUI``."""
        if self.name == "AUG" and self.augment == "stochastic":
            return "AUG-stoch" if self.draws == 1 else f"AUG-{self.draws}draws"
        return self.name


NOM = Strategy("NOM")
"""Nominal training: plain gradient descent on the risk, no augmentation, no constraint."""
AUG = Strategy("AUG")
"""Augmented training with the exact group average of the risk (every element each step)."""
AUG_STOCHASTIC = Strategy("AUG", augment="stochastic")
"""Augmented training with one random group element per sample and step (SGD-style
augmentation)."""
EQUI = Strategy("EQUI")
"""Equivariant training: the gradient is projected onto the equivariant subspace E at every
step."""


@dataclass
class Trajectory:
    """Diagnostics recorded along a run (one entry per recorded step).

    Attributes:
        steps: step numbers (0 = before the first update).
        loss: the training loss of that step's batch (before the update).
        distance: ``‖A − Π_E A‖`` over all layers.
        relative_distance: ``distance / ‖A‖``.
        drift: ``‖A − A⁰‖`` over all layers.
        layer_distance: per layer, ``‖A_i − Π_E A_i‖``.
        layer_drift: per layer, ``‖A_i − A_i⁰‖``.
        weights: flattened weights per recorded step when asked for (small models).
    """

    strategy: str
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    relative_distance: list[float] = field(default_factory=list)
    drift: list[float] = field(default_factory=list)
    layer_distance: list[list[float]] = field(default_factory=list)
    layer_drift: list[list[float]] = field(default_factory=list)
    weights: list[Tensor] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per recorded step (for JSONL / CSV)."""
        out = []
        for i, s in enumerate(self.steps):
            rec: dict[str, Any] = {"strategy": self.strategy, "step": s, "loss": self.loss[i],
                                   "distance_to_E": self.distance[i],
                                   "relative_distance_to_E": self.relative_distance[i],
                                   "drift": self.drift[i]}
            for j, (d, w) in enumerate(zip(self.layer_distance[i], self.layer_drift[i],
                                           strict=True)):
                rec[f"layer{j}_distance_to_E"] = d
                rec[f"layer{j}_drift"] = w
            out.append(rec)
        return out


def _record(traj: Trajectory, step: int, loss: float, layers: list[SubspaceLayer],
            start: list[Tensor], keep_weights: bool) -> None:
    with torch.no_grad():
        ws = [layer.weight_flat().detach().to(torch.float64) for layer in layers]
        dist = [float(layer.geometry.distance_to_E(w)) for layer, w in zip(layers, ws,
                                                                          strict=True)]
        drift = [float((w - w0).norm()) for w, w0 in zip(ws, start, strict=True)]
        total = sum(d * d for d in dist) ** 0.5
        norm = sum(float(w.norm()) ** 2 for w in ws) ** 0.5
    traj.steps.append(step)
    traj.loss.append(loss)
    traj.distance.append(total)
    traj.relative_distance.append(total / max(norm, 1e-300))
    traj.drift.append(sum(d * d for d in drift) ** 0.5)
    traj.layer_distance.append(dist)
    traj.layer_drift.append(drift)
    if keep_weights:
        traj.weights.append(torch.cat(ws))


def regulariser(layers: list[SubspaceLayer]) -> Tensor:
    """``(1/2) Σ_i ‖A_i − Π_E A_i‖²`` (differentiable)."""
    total = layers[0].coef.new_zeros(())
    for layer in layers:
        a = layer.weight_flat()
        total = total + 0.5 * (a - layer.geometry.project_E(a)).pow(2).sum()
    return total


def train(objective: Objective, strategy: Strategy, *, steps: int, lr: float,
          generator: torch.Generator | None = None, record_every: int = 1,
          keep_weights: bool = False) -> Trajectory:
    """Run ``steps`` plain gradient steps of ``strategy`` on ``objective.model`` in place.

    Minibatches (if ``objective.batch_size``) come from per-epoch permutations drawn from
    ``generator``, as do the random elements of stochastic augmentation.

    Returns:
        The :class:`Trajectory` (recorded at step 0, every ``record_every`` steps and at the end).
    """
    layers = subspace_layers(objective.model)
    if not layers:
        raise SubspaceError("the model has no subspace layers to train")
    if steps < 0 or not lr > 0:
        raise SubspaceError(f"need steps >= 0 and lr > 0, got {steps}, {lr}")
    augment = "none" if strategy.name != "AUG" else strategy.augment
    start = [layer.weight_flat().detach().to(torch.float64).clone() for layer in layers]
    traj = Trajectory(strategy.label)
    n = objective.x.shape[0]
    order: Tensor | None = None
    pos = 0
    loss_value = float("nan")
    for step in range(steps + 1):
        idx = None
        if objective.batch_size is not None and objective.batch_size < n:
            if order is None or pos + objective.batch_size > n:
                order, pos = torch.randperm(n, generator=generator), 0
            idx = order[pos:pos + objective.batch_size]
            pos += objective.batch_size
        loss = objective.risk(augment, idx, generator=generator, draws=strategy.draws)
        loss_value = float(loss.detach())
        if not torch.isfinite(loss):
            raise SubspaceError(f"the loss became {loss_value} at step {step}; lower lr")
        if step % record_every == 0 or step == steps:
            _record(traj, step, loss_value, layers, start, keep_weights)
        if step == steps:
            break
        if strategy.gamma:
            loss = loss + strategy.gamma * regulariser(layers)
        grads = torch.autograd.grad(loss, [layer.coef for layer in layers])
        with torch.no_grad():
            for layer, g in zip(layers, grads, strict=True):
                if strategy.name == "EQUI":
                    g = layer.geometry.project_coef_E(g)
                layer.coef.sub_(lr * g)
    return traj
