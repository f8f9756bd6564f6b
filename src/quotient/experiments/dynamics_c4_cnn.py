"""c4-cnn: the C4-invariant CNN on digits with three admissible spaces, EQUI then AUG.

The network is ``[conv 3×3 → (AvgPool 2) → tanh → LayerNorm]³ → linear`` in float64 (no biases,
LayerNorm without affine parameters), scaled down from the paper's 1→32→64→64 on 28×28 to a few
channels on 14×14 digits from the bundled MNIST sample. Three admissible spaces of filters:

* ``cross`` — support ``{(0,1),(1,0),(1,1),(1,2),(2,1)}``, coordinates (orthonormal): compatible;
* ``skew`` — support ``{(0,0),(0,1),(1,0),(1,2),(2,1)}``: incompatible (commutator 0.433);
* ``cross-nonorth`` — the cross support with a fixed non-orthonormal kernel basis.

Per seed and space: EQUI training from a random point of ``E`` (orbit-complete minibatches are
not needed here), then AUG with exact augmentation (every batch holds all 4 rotations of each
digit) from the EQUI weights, recording ``‖A − Π_E A‖`` after every batch. Optionally a
stochastic-augmentation run (one random rotation per digit) from the same weights, and the
stability blocks of the EQUI weights (Lanczos on the exact augmented risk of a subset).
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.mnist import load_mnist_sample
from ..dynamics import (
    AUG,
    AUG_STOCHASTIC,
    EQUI,
    CNNSpec,
    Comparison,
    Objective,
    compatibility,
    equivariance_cnn,
    hessian_blocks,
    project_to_E,
    train,
)
from ..errors import ConfigError
from ..testing import equivariance_error
from ..train import RunDir, mix_seed
from . import Experiment
from .dynamics_common import finish, mse

log = logging.getLogger("quotient.dynamics")
SPACES = {"cross": ("cross", "orthonormal"), "skew": ("skew", "orthonormal"),
          "cross-nonorth": ("cross", "non-orthonormal")}


@dataclass
class C4CNNConfig:
    """Settings of c4-cnn.

    Attributes:
        image_size: 14 (digits average-pooled from 28×28) or 28.
        channels: ``[1, c1, c2, c3]``.
        pools: average-pool by 2 after each convolution or not (grids must be even there).
        channel_rep: ``"trivial"`` (the group moves pixels only) or ``"regular"``.
        spaces: admissible spaces to compare (``cross``, ``skew``, ``cross-nonorth``).
        n_train, n_test: digits for training and for the test accuracy.
        batch_size: digits per batch (AUG batches hold 4× as many images).
        equi_epochs, aug_epochs: epochs of EQUI training, then of AUG from its weights.
        lr_equi, lr_aug: plain SGD learning rates.
        seeds: independent runs (data subset, initial weights, kernel basis).
        stochastic_contrast: also run AUG with one random rotation per digit from the EQUI
            weights (cross space only).
        stability: compute the Hessian blocks at the EQUI weights (first seed, every space).
        stability_samples, lanczos_steps: data and iterations for the stability blocks.
        seed: base seed.
    """

    image_size: int = 14
    channels: list[int] = field(default_factory=lambda: [1, 4, 8, 8])
    pools: list[bool] = field(default_factory=lambda: [True, False, False])
    channel_rep: Literal["trivial", "regular"] = "trivial"
    spaces: list[str] = field(default_factory=lambda: ["cross", "skew", "cross-nonorth"])
    n_train: int = 1000
    n_test: int = 1000
    batch_size: int = 100
    equi_epochs: int = 30
    aug_epochs: int = 10
    lr_equi: float = 0.003
    lr_aug: float = 0.0015
    seeds: int = 3
    stochastic_contrast: bool = True
    stability: bool = True
    stability_samples: int = 100
    lanczos_steps: int = 25
    seed: int = 0


def _data(cfg: C4CNNConfig, seed: int) -> tuple[torch.Tensor, ...]:
    if cfg.image_size not in (14, 28):
        raise ConfigError(f"image_size must be 14 or 28, got {cfg.image_size}")
    if cfg.n_train + cfg.n_test > 10_000 or cfg.n_train < cfg.batch_size:
        raise ConfigError("need batch_size <= n_train and n_train + n_test <= 10000")
    data = load_mnist_sample()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(
        mix_seed(seed, "c4-cnn-data")))
    x = data.images.to(torch.float64)
    x = F.avg_pool2d(x, 2) if cfg.image_size == 14 else x
    y = F.one_hot(data.labels, 10).to(torch.float64)
    tr, te = order[:cfg.n_train], order[cfg.n_train:cfg.n_train + cfg.n_test]
    return x[tr], y[tr], x[te], data.labels[te]


def _objective(cfg: C4CNNConfig, space: str, seed: int, x: Tensor, y: Tensor) -> Objective:
    if space not in SPACES:
        raise ConfigError(f"unknown space {space!r}; choose from {sorted(SPACES)}")
    support, basis = SPACES[space]
    spec = CNNSpec(channels=tuple(cfg.channels), image_size=cfg.image_size,
                   pools=tuple(cfg.pools), support=support, basis=basis,
                   channel_rep=cfg.channel_rep)
    gen = torch.Generator().manual_seed(mix_seed(seed, "c4-cnn-init", space))
    model, symmetry = equivariance_cnn(spec, generator=gen)
    project_to_E(model)
    return Objective(model, mse, x, y, symmetry, batch_size=cfg.batch_size)


@torch.no_grad()
def _evaluate(objective: Objective, x: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    model = objective.model
    acc = float((model(x).argmax(1) == labels).double().mean())
    sym = objective.symmetry
    assert sym is not None
    err = equivariance_error(model, sym.group, sym.act_x, lambda g, t: t, x[:32],
                             elements=torch.arange(1, 4)).error
    return {"test_acc": acc, "invariance_error": err}


def run(cfg: C4CNNConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """EQUI, then AUG from its weights, per seed and space (``--resume`` runs again)."""
    t0 = time.perf_counter()
    per_epoch = cfg.n_train // cfg.batch_size
    aug_runs, equi_runs = Comparison(), Comparison()
    metrics: dict[str, float] = {}
    evals: dict[str, list[dict[str, float]]] = {}
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        x, y, xt, lt = _data(cfg, seed)
        for space in cfg.spaces:
            objective = _objective(cfg, space, seed, x, y)
            if i == 0:
                comp = compatibility(objective.model)
                metrics[f"{space}/commutator"] = comp.commutator
                metrics[f"{space}/dim_L"], metrics[f"{space}/dim_E"] = comp.dim_L, comp.dim_E
            gen = torch.Generator().manual_seed(mix_seed(seed, "c4-cnn-order", space))
            equi = train(objective, EQUI, steps=cfg.equi_epochs * per_epoch, lr=cfg.lr_equi,
                         generator=gen, record_every=per_epoch)
            equi_runs.add(space, equi)
            evals.setdefault(space, []).append(_evaluate(objective, xt, lt))
            start = copy.deepcopy(objective.model.state_dict())
            if cfg.stability and i == 0:
                metrics.update(_stability(cfg, objective, space))
            for strategy in [AUG] + ([AUG_STOCHASTIC] if cfg.stochastic_contrast
                                     and space == "cross" else []):
                objective.model.load_state_dict(start)
                aug = train(objective, strategy, steps=cfg.aug_epochs * per_epoch,
                            lr=cfg.lr_aug, generator=gen)
                aug_runs.add(f"{space} {strategy.label}", aug)
                log.info("seed %d %s %s: distance %.3g -> %.3g", seed, space, strategy.label,
                         aug.distance[0], aug.distance[-1])
        for comp_ in (aug_runs, equi_runs):
            comp_.seeds.append(seed)
    metrics.update(finish(aug_runs, run_dir, "C4 CNN, AUG from EQUI weights",
                          xlabel="AUG step (batch)"))
    for space, rows in evals.items():
        for key in rows[0]:
            metrics[f"{space}/equi_{key}_median"] = statistics.median(r[key] for r in rows)
    if run_dir.is_writer:
        from ..dynamics.plots import plot_distance_over_steps

        plot_distance_over_steps(equi_runs.curves("loss"), equi_runs.steps,
                                 run_dir.plot_path("equi_loss"), xlabel="EQUI step",
                                 ylabel="training loss (MSE)", title="C4 CNN: EQUI training")
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


def _stability(cfg: C4CNNConfig, objective: Objective, space: str) -> dict[str, float]:
    sub = Objective(objective.model, objective.loss, objective.x[:cfg.stability_samples],
                    objective.y[:cfg.stability_samples], objective.symmetry)
    rep = hessian_blocks(objective.model, lambda: sub.risk("exact"), method="lanczos",
                         lanczos_steps=cfg.lanczos_steps,
                         generator=torch.Generator().manual_seed(0))
    return {f"{space}/hessian_E_min": rep.e_min, f"{space}/hessian_E_max": rep.e_max,
            f"{space}/hessian_perp_min": rep.perp_min, f"{space}/hessian_perp_max": rep.perp_max,
            f"{space}/gradient_E": rep.gradient_E, f"{space}/gradient_perp": rep.gradient_perp}


EXPERIMENT = Experiment(
    name="c4-cnn",
    description="C4-invariant CNN on digits: cross / skew / non-orthonormal filter spaces, "
                "EQUI then exact AUG",
    config_cls=C4CNNConfig,
    run=run,
    kind="dynamics",
)
