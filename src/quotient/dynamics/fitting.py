"""NOM, AUG and EQUI through the library's trainer (:func:`quotient.train.fit`): progress bar,
checkpoints, resume, ``metrics.jsonl``, with the distance to ``E`` recorded at every step.

:func:`train` (in :mod:`quotient.dynamics.training`) is the bare float64 loop the theorem tests
use; :func:`fit_strategy` runs the same three strategies as a resumable run:

* the data order comes from the trainer (one permutation per epoch, seeded by ``config.seed``);
* AUG ``"exact"`` evaluates every sample of the batch under every element of ``G`` (an
  orbit-complete batch; with ``config.batch_size`` equal to the data size it is the exact
  augmented risk), AUG ``"stochastic"`` draws ``strategy.draws`` random elements per sample
  from the step's generator (so a resumed run draws the same ones);
* EQUI projects the gradient onto ``C_E = {c : B c ∈ E}`` before the optimizer's step and the
  step itself afterwards, so the weights stay in ``E`` for any optimizer (with plain SGD the
  second projection changes nothing);
* before every update the step logs ``distance_to_E``, ``relative_distance_to_E``, ``drift``
  (``‖A − A⁰‖``) and the per-layer values; ``A⁰`` is stored in the run directory
  (``dynamics_start.pt``) so that a resumed run measures drift from the same start.

The theory is about gradient flow: use ``config.optimizer = "sgd"`` (momentum 0, no weight
decay) for the NOM/AUG/EQUI comparisons; Adam's per-coordinate scaling moves an exactly
augmented network out of ``E`` even for compatible ``L``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..train import Callback, FitResult, RunDir, StepContext, TensorDictDataset, TrainConfig, fit
from ..train.config import build_optimizer
from ..train.io import atomic_write_bytes
from ._errors import SubspaceError
from .layers import SubspaceLayer, subspace_layers
from .training import Objective, Strategy, Trajectory, _record, regulariser

START_FILE = "dynamics_start.pt"
"""Where a run directory keeps the starting weights ``A⁰``."""


@dataclass
class DynamicsFit:
    """What :func:`fit_strategy` returns.

    Attributes:
        result: the trainer's :class:`~quotient.train.FitResult` (history, checkpoint, ...).
        trajectory: the step records as a :class:`~quotient.dynamics.Trajectory` (entry ``k``
            is the state after ``k`` updates; the last entry's loss is the full-data risk).
    """

    result: FitResult
    trajectory: Trajectory


def _measure(layers: list[SubspaceLayer], start: list[Tensor]) -> dict[str, float]:
    with torch.no_grad():
        ws = [layer.weight_flat().detach().to(torch.float64) for layer in layers]
        dist = [float(layer.geometry.distance_to_E(w)) for layer, w in zip(layers, ws,
                                                                          strict=True)]
        drift = [float((w - w0).norm()) for w, w0 in zip(ws, start, strict=True)]
        norm = sum(float(w.norm()) ** 2 for w in ws) ** 0.5
    total = sum(d * d for d in dist) ** 0.5
    out = {"distance_to_E": total, "relative_distance_to_E": total / max(norm, 1e-300),
           "drift": sum(d * d for d in drift) ** 0.5}
    for j, (d, w) in enumerate(zip(dist, drift, strict=True)):
        out[f"layer{j}_distance_to_E"] = d
        out[f"layer{j}_drift"] = w
    return out


def projected_optimizer(optimizer: torch.optim.Optimizer,
                        layers: Sequence[SubspaceLayer]) -> torch.optim.Optimizer:
    """An EQUI twin of ``optimizer`` (same class, parameters and settings): gradients are
    projected onto ``C_E`` before its step, and the update onto ``C_E`` after it, so that
    coefficients in ``C_E`` stay there whatever the optimizer does with the gradient."""
    layers = list(layers)
    base = type(optimizer)

    def step(self: torch.optim.Optimizer, closure: Any = None) -> Any:  # noqa: ANN401
        with torch.no_grad():
            for layer in layers:
                if layer.coef.grad is not None:
                    layer.coef.grad.copy_(layer.geometry.project_coef_E(layer.coef.grad))
            before = [layer.coef.detach().clone() for layer in layers]
        loss = base.step(self, closure)
        with torch.no_grad():
            for layer, b in zip(layers, before, strict=True):
                layer.coef.copy_(b + layer.geometry.project_coef_E(layer.coef - b))
        return loss

    cls = type(f"Equi{base.__name__}", (base,), {"step": step})
    params = [p for group in optimizer.param_groups for p in group["params"]]
    return cls(params, **optimizer.defaults)


def _start_weights(layers: list[SubspaceLayer], run_dir: RunDir | None,
                   resume: bool) -> list[Tensor]:
    now = [layer.weight_flat().detach().to(torch.float64).clone() for layer in layers]
    if run_dir is None:
        return now
    path = run_dir.file(START_FILE)
    if resume and path.is_file():
        saved = torch.load(path, weights_only=True)
        if [tuple(t.shape) for t in saved] != [tuple(t.shape) for t in now]:
            raise SubspaceError(f"{path} holds starting weights of another network")
        return saved
    if run_dir.is_writer:
        buf = io.BytesIO()
        torch.save(now, buf)
        atomic_write_bytes(path, buf.getvalue())
    return now


def fit_strategy(objective: Objective, strategy: Strategy, config: TrainConfig,
                 run_dir: RunDir | None = None, *, resume: bool = False,
                 callbacks: Sequence[Callback] = (), record_every: int = 1,
                 scheduler: Callable[[torch.optim.Optimizer], Any] | None = None) -> DynamicsFit:
    """Train ``objective.model`` with ``strategy`` through :func:`quotient.train.fit`.

    Args:
        objective: the network (with subspace layers), loss and data; ``objective.symmetry``
            for AUG. Its ``batch_size`` is ignored: ``config.batch_size`` is the batch.
        strategy: NOM, AUG (``augment="exact"`` for orbit-complete batches, ``"stochastic"``
            for random elements) or EQUI; ``strategy.gamma`` adds ``(γ/2)‖A − Π_E A‖²``.
        config: the trainer's settings (``device`` must be ``"cpu"`` or ``"auto"``, which
            means the CPU here: the subspace geometry lives on the CPU).
        run_dir: where checkpoints and metrics go (``None``: in memory).
        resume: continue the run in ``run_dir`` from its latest checkpoint.
        callbacks: passed to the trainer.
        scheduler: a function ``optimizer -> LR scheduler`` (stepped after every step and
            checkpointed with the run), passed to the trainer.
        record_every: log every this many steps (``config.log_every`` is replaced by it; the
            logged values are means over the steps since the previous record, so only the
            default 1 gives the exact state before every update).

    Returns:
        A :class:`DynamicsFit`.

    Raises:
        SubspaceError: no subspace layers, AUG without a symmetry, a device other than the CPU.
    """
    model = objective.model
    layers = subspace_layers(model)
    if not layers:
        raise SubspaceError(f"{type(model).__name__} has no subspace layers to train; convert "
                            "it first (quotient.dynamics.convert)")
    if strategy.name == "AUG" and objective.symmetry is None:
        raise SubspaceError("AUG needs Objective.symmetry (how G acts on the data)")
    if config.device not in ("cpu", "auto"):
        raise SubspaceError(f"dynamics runs are CPU runs; set train.device to 'cpu' (got "
                            f"{config.device!r})")
    config = dataclasses.replace(config, device="cpu", log_every=record_every)
    augment = strategy.augment if strategy.name == "AUG" else "none"
    start = _start_weights(layers, run_dir, resume)

    def loss_fn(net: nn.Module, batch: dict[str, Tensor],
                ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        logs = _measure(layers, start)
        x, y = batch["x"], batch["y"]
        if augment == "exact":
            x, y = objective.symmetry.orbit(x, y)  # type: ignore[union-attr]
        elif augment == "stochastic":
            x, y = objective.symmetry.random(x, y, ctx.generator,  # type: ignore[union-attr]
                                             strategy.draws)
        risk = objective.loss(net(x), y)
        logs["risk"] = float(risk.detach())
        loss = risk + strategy.gamma * regulariser(layers) if strategy.gamma else risk
        return loss, logs

    optimizer = build_optimizer(model.parameters(), config)
    if strategy.name == "EQUI":
        optimizer = projected_optimizer(optimizer, layers)
    result = fit(model, loss_fn, TensorDictDataset(x=objective.x, y=objective.y), config,
                 run_dir, resume=resume, optimizer=optimizer, scheduler=scheduler,
                 callbacks=callbacks)
    return DynamicsFit(result, _trajectory(result, strategy, objective, layers, start,
                                           record_every, config.seed))


def _trajectory(result: FitResult, strategy: Strategy, objective: Objective,
                layers: list[SubspaceLayer], start: list[Tensor], every: int,
                seed: int) -> Trajectory:
    traj = Trajectory(strategy.label)
    for rec in result.history:
        if rec.get("kind") != "train":
            continue
        # a record at step k holds the means over the `every` steps before it, each measured
        # before its update: with every = 1 that is the state after k − 1 updates
        traj.steps.append(int(rec["step"]) - every)
        traj.loss.append(float(rec["risk"]))
        traj.distance.append(float(rec["distance_to_E"]))
        traj.relative_distance.append(float(rec["relative_distance_to_E"]))
        traj.drift.append(float(rec["drift"]))
        traj.layer_distance.append([float(rec[f"layer{j}_distance_to_E"])
                                    for j in range(len(layers))])
        traj.layer_drift.append([float(rec[f"layer{j}_drift"]) for j in range(len(layers))])
    augment = strategy.augment if strategy.name == "AUG" else "none"
    with torch.no_grad():
        final = float(objective.risk(augment, generator=torch.Generator().manual_seed(seed),
                                     draws=strategy.draws))
    _record(traj, result.step, final, layers, start, False)
    return traj
