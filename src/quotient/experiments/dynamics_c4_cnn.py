"""c4-cnn: the paper's main experiment on an ordinary PyTorch CNN, from a real stationary point.

The network is a plain ``nn.Sequential`` on 14×14 digits (the bundled 10k MNIST sample,
average-pooled from 28×28)::

    Conv2d(1, c1, 3, padding=1) → SiLU → AvgPool2d(2)            14×14 → 7×7
    Conv2d(c1, c2, 3, padding=1) → SiLU → AvgPool2d(3, stride=2)  7×7 → 3×3
    Conv2d(c2, c3, 3, padding=1) → SiLU → Flatten → Linear(9·c3, 10)

made C4-invariant by :func:`~quotient.dynamics.convert` with regular hidden channels (a quarter
turn rotates the grid and cycles the four orientation channels of every copy) and invariant
class scores. SiLU and average pools keep the risk smooth, so that a stationary point exists
(ReLU and max pools do not). Three admissible filter spaces ``L`` (every convolution):

* ``cross`` — support ``{(0,1),(1,0),(1,1),(1,2),(2,1)}``, coordinates: compatible, orthonormal;
* ``skew`` — support ``{(0,0),(0,1),(1,0),(1,2),(2,1)}``: incompatible (commutator √3/4);
* ``cross-nonorth`` — the cross support in a fixed non-orthonormal kernel basis: the same ``L``
  and ``E`` as ``cross``, so it starts from the very same weights.

Phases (each saved in the run directory; ``--resume`` skips finished ones and continues the
trainings from their checkpoints):

1. **EQUI** for each ``E`` (cross, skew): Adam on ``n_train`` digits through
   :func:`~quotient.dynamics.fit_strategy` (float32 for speed), then to a stationary point of the
   *dynamics risk* on the first ``n_dynamics`` training digits

       R(A) = CE(A) + (λ/2)‖A‖² + (γ/2)‖A − A_pre‖²

   (``A_pre`` the Adam weights; both penalties are ρ̄-invariant): :func:`lbfgs_in_E` in float32,
   then in float64, then :func:`stationary_point` certifies ``‖Π_E ∇R‖ ≤ gradient_tol``.
2. **Stability** at the cross point: :func:`hessian_blocks` of the exact augmented risk
   (Lanczos); the penalties add ``λ + γ`` to every eigenvalue, reported separately.
3. **AUG** from the stationary weights, plain SGD on the same risk: exact (full batch, every
   digit in all four rotations; deterministic, one run), orbit-complete minibatches, and
   minibatches with one random rotation per digit at two learning rates, ``seeds`` seeds each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..dynamics import Comparison, compatibility_report
from ..errors import ConfigError
from ..train import RunDir, use_threads
from . import Experiment
from .dynamics_c4_parts import (
    at_point,
    aug_metrics,
    aug_runs,
    digits,
    equi_point,
    figures,
    stability,
)

SPACES = ("cross", "skew", "cross-nonorth")


@dataclass
class C4CNNConfig:
    """Settings of c4-cnn (scaled to two CPU cores; see ``docs/dynamics.md``).

    Attributes:
        channels: ``[c1, c2, c3]`` hidden channels, multiples of 4 (regular C4 copies).
        n_train, n_test: digits for EQUI pre-training and for the test accuracy (disjoint).
        n_dynamics: the first training digits, on which the stationary point, the Hessian and
            every AUG run are computed (full-batch risks over all of them).
        weight_decay, anchor: ``λ`` and ``γ`` of the risk (module docstring).
        equi_epochs, equi_lrs: Adam stages of EQUI pre-training (epochs and learning rates).
        equi_batch: digits per pre-training batch.
        init_gain: initial ‖A‖ of every convolution inside ``E`` is ``gain·√(out channels)``.
        gradient_tol: stationarity: ``‖Π_E ∇R‖`` at most this (float64).
        lbfgs_iters: most L-BFGS iterations per precision.
        spaces: admissible spaces, from ``cross``, ``skew``, ``cross-nonorth``.
        exact_steps: full-batch steps of exact AUG.
        aug_lr: SGD learning rate of exact and orbit-complete AUG.
        aug_batch, aug_epochs: minibatch size (digits) and epochs over the dynamics digits of
            the minibatch forms.
        sgd_lrs: the two learning rates of random-rotation SGD.
        seeds: seeds of the minibatch forms (data order, rotations).
        stability: compute the Hessian blocks at the cross point.
        lanczos_steps: Lanczos iterations per block.
        threads: CPU threads (0: torch's default). One is fastest for these small layers on
            shared cores, where several threads per process slow down badly.
        seed: base seed (data split, initial weights, non-orthonormal basis).
    """

    channels: list[int] = field(default_factory=lambda: [16, 16, 32])
    n_train: int = 8000
    n_test: int = 2000
    n_dynamics: int = 2000
    weight_decay: float = 1e-3
    anchor: float = 1e-2
    equi_epochs: list[int] = field(default_factory=lambda: [20, 10, 5])
    equi_lrs: list[float] = field(default_factory=lambda: [1e-2, 3e-3, 1e-3])
    equi_batch: int = 50
    init_gain: float = 1.5
    gradient_tol: float = 1e-6
    lbfgs_iters: int = 2000
    spaces: list[str] = field(default_factory=lambda: list(SPACES))
    exact_steps: int = 20
    aug_lr: float = 0.05
    aug_batch: int = 50
    aug_epochs: int = 2
    sgd_lrs: list[float] = field(default_factory=lambda: [0.01, 0.05])
    seeds: int = 5
    stability: bool = True
    lanczos_steps: int = 16
    threads: int = 1
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`~quotient.errors.ConfigError` for settings that cannot work."""
        if len(self.channels) != 3 or any(c < 4 or c % 4 for c in self.channels):
            raise ConfigError(f"channels must be three multiples of 4, got {self.channels}")
        if self.n_train + self.n_test > 10_000 or not 0 < self.n_dynamics <= self.n_train:
            raise ConfigError("need 0 < n_dynamics <= n_train and n_train + n_test <= 10000")
        if self.n_dynamics % self.aug_batch or self.n_train < self.equi_batch:
            raise ConfigError("aug_batch must divide n_dynamics and equi_batch <= n_train")
        if len(self.equi_epochs) != len(self.equi_lrs) or not self.equi_epochs:
            raise ConfigError("equi_epochs and equi_lrs need one entry per stage")
        if unknown := sorted(set(self.spaces) - set(SPACES)):
            raise ConfigError(f"unknown spaces {unknown}; choose from {list(SPACES)}")
        if len(self.sgd_lrs) != 2 or self.seeds < 1 or self.exact_steps < 1:
            raise ConfigError("need two sgd_lrs, seeds >= 1 and exact_steps >= 1")


def run(cfg: C4CNNConfig, run_dir: RunDir, resume: bool) -> dict[str, Any]:
    """EQUI to a stationary point, the Hessian blocks there, AUG in four forms from it."""
    cfg.validate()
    with use_threads(cfg.threads):
        return _run(cfg, run_dir)


def _run(cfg: C4CNNConfig, run_dir: RunDir) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = digits(cfg)
    metrics: dict[str, Any] = {}
    points = {e: equi_point(cfg, data, e, run_dir)
              for e in dict.fromkeys("skew" if s == "skew" else "cross" for s in cfg.spaces)}
    for e, point in points.items():
        for key in ("test_accuracy", "pretrained_test_accuracy", "dynamics_accuracy", "risk",
                    "gradient_E", "stationary", "invariance_error", "seconds"):
            metrics[f"equi_{e}/{key}"] = point[key]
    metrics["gradient_tol"] = cfg.gradient_tol
    objectives = {s: at_point(cfg, data, s, points["skew" if s == "skew" else "cross"])
                  for s in cfg.spaces}
    for space, objective in objectives.items():
        report = compatibility_report(objective.model).total
        metrics[f"{space}/commutator"] = report.commutator
        metrics[f"{space}/dim_L"], metrics[f"{space}/dim_E"] = report.dim_L, report.dim_E
    if cfg.stability and "cross" in points:
        cross = objectives.get("cross") or at_point(cfg, data, "cross", points["cross"])
        metrics.update({f"hessian/{k}": v for k, v in stability(cfg, cross, run_dir).items()
                        if not k.endswith("ritz")})
    runs: dict[str, Comparison] = {}
    for space, objective in objectives.items():
        aug_runs(cfg, objective, space, run_dir, runs)
    metrics.update(aug_metrics(runs, cfg))
    if run_dir.is_writer:
        run_dir.write_metrics_log([{"form": form, **rec} for form, comp in runs.items()
                                   for rec in comp.records()])
    figures(runs, points, cfg, run_dir)
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


EXPERIMENT = Experiment(
    name="c4-cnn",
    description="C4-invariant CNN on digits: EQUI to a stationary point (test accuracy >= 0.95), "
                "Hessian blocks, AUG exact / orbit-complete / random rotations",
    config_cls=C4CNNConfig,
    run=run,
    kind="dynamics",
    check=C4CNNConfig.validate,
)
