"""The steps of ``quotient dynamics c4-cnn`` (:mod:`.dynamics_c4_cnn` composes them): the digits,
the user's plain CNN and its converted forms, EQUI to a certified stationary point, the Hessian
blocks there, the four AUG forms from it, and the figures."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import rot90_image
from ..data.mnist import load_mnist_sample
from ..dynamics import (
    AUG,
    AUG_STOCHASTIC,
    CROSS,
    EQUI,
    Comparison,
    KernelBasis,
    Objective,
    Strategy,
    Symmetry,
    convert,
    export,
    fit_strategy,
    flat_weights,
    hessian_blocks,
    lbfgs_in_E,
    non_orthonormal_kernel_basis,
    project_to_E,
    stationary_point,
    subspace_layers,
)
from ..dynamics.plots import plot_distance_over_steps, plot_distance_panels
from ..groups import CyclicGroup
from ..testing import equivariance_error
from ..train import RunDir, TrainConfig, mix_seed, seeded
from .dynamics_common import load_phase, nested_run, penalised, save_phase

if TYPE_CHECKING:
    from .dynamics_c4_cnn import C4CNNConfig

log = logging.getLogger("quotient.dynamics")
C4 = CyclicGroup(4)
FORMS = ("exact", "orbit-complete", "SGD lr1", "SGD lr2")
"""The AUG forms: full batch, orbit-complete minibatches, random rotations at two rates."""


@dataclass
class Digits:
    """The split: pre-training, dynamics (the first training digits) and test digits."""

    x: Tensor
    y: Tensor
    x_test: Tensor
    y_test: Tensor
    n_dynamics: int

    def dynamics(self, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
        """The dynamics digits in ``dtype``."""
        return self.x[:self.n_dynamics].to(dtype), self.y[:self.n_dynamics]


def digits(cfg: C4CNNConfig) -> Digits:
    """A seeded split of the bundled sample, average-pooled to 14×14 and standardised with the
    training digits' mean and standard deviation (one number each: the rotations commute)."""
    data = load_mnist_sample()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(
        mix_seed(cfg.seed, "c4-cnn-data")))
    x = F.avg_pool2d(data.images.to(torch.float64), 2)[order]
    y = data.labels[order]
    train = x[:cfg.n_train]
    x = (x - train.mean()) / train.std()
    end = cfg.n_train + cfg.n_test
    return Digits(x[:cfg.n_train], y[:cfg.n_train], x[cfg.n_train:end], y[cfg.n_train:end],
                  cfg.n_dynamics)


def plain_cnn(cfg: C4CNNConfig) -> nn.Sequential:
    """The user's network: ordinary PyTorch layers, PyTorch's own initialisation."""
    c1, c2, c3 = cfg.channels
    with seeded(mix_seed(cfg.seed, "c4-cnn-init")):
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.SiLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.SiLU(), nn.AvgPool2d(3, stride=2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.SiLU(), nn.Flatten(), nn.Linear(9 * c3, 10))


def invariant_cnn(plain: nn.Module, cfg: C4CNNConfig, space: str,
                  weights: str = "exact") -> nn.Module:
    """``plain`` converted for one admissible space (the same function when its weights lie
    in ``L``; ``weights="project"`` projects them onto ``L``)."""
    spec: Any = "skew" if space == "skew" else "cross"
    if space == "cross-nonorth":
        gen = torch.Generator().manual_seed(mix_seed(cfg.seed, "c4-cnn-basis"))
        spec = KernelBasis(non_orthonormal_kernel_basis(CROSS, 3, generator=gen))
    return convert(plain, C4, input="trivial", hidden="regular", output="trivial",
                   spatial=rot90_image, input_shape=(1, 14, 14), space=spec, weights=weights)


def _start_in_E(net: nn.Module, gain: float) -> None:
    """Project onto ``E`` and give every convolution the norm ``gain·√(out channels)`` (the
    projection of PyTorch's initial weights is too small for a network without
    normalisation layers)."""
    project_to_E(net)
    with torch.no_grad():
        for layer in subspace_layers(net):
            shape = layer.weight_shape
            if len(shape) == 4 and shape[1] > 0:
                layer.coef.mul_(gain * shape[0] ** 0.5 / float(layer.weight_flat().norm()))


def _symmetry() -> Symmetry:
    return Symmetry(C4, rot90_image)


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    dtype = next(net.parameters()).dtype
    return float((net(x.to(dtype)).argmax(1) == y).double().mean())


def equi_point(cfg: C4CNNConfig, data: Digits, space: str, run_dir: RunDir) -> dict[str, Any]:
    """EQUI pre-training, then a certified stationary point of the dynamics risk in float64."""
    if (done := load_phase(run_dir, f"equi-{space}")) is not None:
        log.info("EQUI %s: finished earlier (test accuracy %.4f)", space, done["test_accuracy"])
        return done
    t0 = time.perf_counter()
    net = invariant_cnn(plain_cnn(cfg).float(), cfg, space, weights="project")
    _start_in_E(net, cfg.init_gain)
    loss = penalised(F.cross_entropy, net, weight_decay=cfg.weight_decay)
    objective = Objective(net, loss, data.x.float(), data.y, _symmetry())
    steps = cfg.n_train // cfg.equi_batch
    marks = [steps * sum(cfg.equi_epochs[:i + 1]) for i in range(len(cfg.equi_epochs) - 1)]
    rates = [lr / cfg.equi_lrs[0] for lr in cfg.equi_lrs]

    def schedule(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: rates[sum(step >= m for m in marks)])

    config = TrainConfig(epochs=sum(cfg.equi_epochs), batch_size=cfg.equi_batch,
                         lr=cfg.equi_lrs[0], optimizer="adam", device="cpu", checkpoint_every=200,
                         seed=mix_seed(cfg.seed, "c4-cnn-equi", space))
    with nested_run(run_dir, f"equi-{space}") as sub:
        fit_strategy(objective, EQUI, config, sub, resume=bool(sub and sub.resume),
                     record_every=steps, scheduler=schedule)
    pretrained = accuracy(net, data.x_test, data.y_test)
    anchor = [w.detach().double() for w in flat_weights(net)]  # A_pre, in E
    xd, yd = data.dynamics(torch.float32)
    risk32 = Objective(net, penalised(F.cross_entropy, net, weight_decay=cfg.weight_decay,
                                      anchor=anchor, anchor_strength=cfg.anchor), xd, yd)
    trace: list[tuple[str, int, float]] = []

    def note(stage: str) -> Callable[[int, float, float], None]:
        def report(it: int, value: float, grad: float) -> None:
            trace.append((stage, it, grad))
            log.info("EQUI %s, %s iteration %d: risk %.8f, |Π_E ∇R| %.3e", space, stage, it,
                     value, grad)
        return report

    # float32 gets near cheaply; its rounding stalls the gradient near 1e-4
    lbfgs_in_E(net, risk32.risk, gtol=1e-3, max_iter=cfg.lbfgs_iters, check_every=50,
               progress=note("L-BFGS float32"))
    net64 = invariant_cnn(export(net).double(), cfg, space)
    project_to_E(net64)  # float32 rounding of the orbit structure
    xd, yd = data.dynamics()
    risk = Objective(net64, penalised(F.cross_entropy, net64, weight_decay=cfg.weight_decay,
                                      anchor=anchor, anchor_strength=cfg.anchor), xd, yd)
    lbfgs_in_E(net64, risk.risk, gtol=0.5 * cfg.gradient_tol, max_iter=cfg.lbfgs_iters,
               check_every=50, progress=note("L-BFGS float64"))
    found = stationary_point(net64, risk.risk, gtol=cfg.gradient_tol, max_iter=10,
                             progress=note("Newton"))
    sym = _symmetry()
    result = {
        "state": net64.state_dict(), "anchor": anchor,
        "test_accuracy": accuracy(net64, data.x_test, data.y_test),
        "pretrained_test_accuracy": pretrained,
        "dynamics_accuracy": accuracy(net64, xd, yd), "risk": found.risk,
        "gradient_E": found.gradient_E, "stationary": found.converged,
        "invariance_error": equivariance_error(net64, C4, sym.act_x, lambda g, t: t,
                                               data.x_test[:64], elements=torch.arange(1, 4)).error,
        "trace": trace, "seconds": time.perf_counter() - t0}
    log.info("EQUI %s: test accuracy %.4f (pre-trained %.4f), |Π_E ∇R| = %.2e", space,
             result["test_accuracy"], pretrained, found.gradient_E)
    save_phase(run_dir, f"equi-{space}", result)
    return result


def at_point(cfg: C4CNNConfig, data: Digits, space: str, point: dict[str, Any]) -> Objective:
    """The converted network for ``space`` holding a stationary point's weights, with the
    dynamics risk (every space of one ``E`` starts from the same weights)."""
    base = "skew" if space == "skew" else "cross"
    net = invariant_cnn(plain_cnn(cfg).double(), cfg, base, weights="project")
    net.load_state_dict(point["state"])
    if space == "cross-nonorth":
        net = invariant_cnn(export(net), cfg, space)  # the same weights, another basis of L
    xd, yd = data.dynamics()
    loss = penalised(F.cross_entropy, net, weight_decay=cfg.weight_decay,
                     anchor=point["anchor"], anchor_strength=cfg.anchor)
    return Objective(net, loss, xd, yd, _symmetry())


def stability(cfg: C4CNNConfig, objective: Objective, run_dir: RunDir) -> dict[str, Any]:
    """The Hessian blocks of the exact augmented risk at the cross point."""
    if (done := load_phase(run_dir, "stability")) is not None:
        return done
    t0 = time.perf_counter()
    rep = hessian_blocks(objective.model, lambda: objective.risk("exact"), method="lanczos",
                         lanczos_steps=cfg.lanczos_steps, gradient_tol=cfg.gradient_tol,
                         generator=torch.Generator().manual_seed(mix_seed(cfg.seed, "lanczos")))
    shift = cfg.weight_decay + cfg.anchor
    out = {"E_min": rep.e_min, "E_max": rep.e_max, "perp_min": rep.perp_min,
           "perp_max": rep.perp_max, "E_residual": rep.e_residual,
           "perp_residual": rep.perp_residual, "dim_E": rep.dim_E, "dim_perp": rep.dim_perp,
           "gradient_E": rep.gradient_E, "gradient_perp": rep.gradient_perp,
           "stationary": rep.stationary, "stable_equi": rep.stable_equi,
           "stable_aug": rep.stable_aug, "penalty_shift": shift,
           "E_min_without_penalties": rep.e_min - shift,
           "perp_min_without_penalties": rep.perp_min - shift,
           "E_ritz": rep.e_eigenvalues.tolist(), "perp_ritz": rep.perp_eigenvalues.tolist(),
           "seconds": time.perf_counter() - t0}
    log.info("Hessian at the cross point: E-block [%.3g, %.3g], E⊥-block [%.3g, %.3g]; EQUI "
             "%s, AUG %s", rep.e_min, rep.e_max, rep.perp_min, rep.perp_max,
             "stable" if rep.stable_equi else "unstable",
             "stable" if rep.stable_aug else "unstable (saddle)")
    save_phase(run_dir, "stability", out)
    return out


def aug_runs(cfg: C4CNNConfig, objective: Objective, space: str, run_dir: RunDir,
             runs: dict[str, Comparison]) -> None:
    """The four AUG forms from the stationary weights of ``objective.model``."""
    start = {k: v.clone() for k, v in objective.model.state_dict().items()}
    per_epoch = cfg.n_dynamics // cfg.aug_batch
    plans: list[tuple[str, Strategy, int, float, int, list[int]]] = [
        ("exact", AUG, cfg.n_dynamics, cfg.aug_lr, cfg.exact_steps, [cfg.seed]),
        ("orbit-complete", AUG, cfg.aug_batch, cfg.aug_lr, cfg.aug_epochs, []),
        ("SGD lr1", AUG_STOCHASTIC, cfg.aug_batch, cfg.sgd_lrs[0], cfg.aug_epochs, []),
        ("SGD lr2", AUG_STOCHASTIC, cfg.aug_batch, cfg.sgd_lrs[1], cfg.aug_epochs, [])]
    for form, strategy, batch, lr, epochs, seeds in plans:
        for seed in seeds or [cfg.seed + i for i in range(cfg.seeds)]:
            objective.model.load_state_dict(start)
            config = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="sgd",
                                 device="cpu", seed=seed, checkpoint_every=4 * per_epoch)
            with nested_run(run_dir, f"aug-{space}-{form.replace(' ', '')}-seed{seed}") as sub:
                traj = fit_strategy(objective, strategy, config, sub,
                                    resume=bool(sub and sub.resume)).trajectory
            comparison = runs.setdefault(form, Comparison())
            comparison.add(space, traj)
            if seed not in comparison.seeds:
                comparison.seeds.append(seed)
            log.info("AUG %s, %s, seed %d: distance from E %.3g after %d steps (max %.3g)",
                     space, form, seed, traj.distance[-1], traj.steps[-1], max(traj.distance))
    objective.model.load_state_dict(start)


def aug_metrics(runs: dict[str, Comparison], cfg: C4CNNConfig) -> dict[str, float]:
    out: dict[str, float] = {}
    for form, comp in runs.items():
        key = form.replace(" ", "_")
        for space, trajs in comp.runs.items():
            final = [t.distance[-1] for t in trajs]
            out[f"{space}/{key}/distance_final_median"] = statistics.median(final)
            out[f"{space}/{key}/distance_final_min"] = min(final)
            out[f"{space}/{key}/distance_final_max"] = max(final)
            out[f"{space}/{key}/distance_max_over_steps"] = max(max(t.distance) for t in trajs)
            out[f"{space}/{key}/drift_final_median"] = statistics.median(t.drift[-1]
                                                                         for t in trajs)
            out[f"{space}/{key}/runs"] = len(trajs)
    out["sgd_lr1"], out["sgd_lr2"] = cfg.sgd_lrs
    return out


def figures(runs: dict[str, Comparison], points: dict[str, dict[str, Any]], cfg: C4CNNConfig,
             run_dir: RunDir) -> None:
    if not run_dir.is_writer:
        return
    names = {"exact": f"exact AUG (full batch, all 4 rotations), lr {cfg.aug_lr:g}",
             "orbit-complete": f"orbit-complete minibatches of {cfg.aug_batch}, lr {cfg.aug_lr:g}",
             "SGD lr1": f"one random rotation per digit, lr {cfg.sgd_lrs[0]:g}",
             "SGD lr2": f"one random rotation per digit, lr {cfg.sgd_lrs[1]:g}"}
    panels = {names[f]: (runs[f].steps, runs[f].curves("distance")) for f in FORMS if f in runs}
    plot_distance_panels(panels, run_dir.plot_path("aug_distance"), xlabel="AUG step",
                         title="C4 CNN from its EQUI stationary point: distance from E "
                               "(median and range over seeds)")
    curves, steps = {}, []
    for space, point in points.items():
        grads = [g for _, _, g in point["trace"]]
        curves[f"E of {space}"] = [grads]
        steps = list(range(max(len(steps), len(grads))))
    for label in curves:  # pad to a common length with the last value
        curves[label] = [curves[label][0] + [curves[label][0][-1]] * (len(steps)
                                                                      - len(curves[label][0]))]
    plot_distance_over_steps(curves, steps, run_dir.plot_path("stationary_point"),
                             ylabel="‖Π_E ∇R‖ (log scale)",
                             xlabel="check (every 50 L-BFGS iterations, then Newton)",
                             title=f"EQUI to a stationary point (tolerance {cfg.gradient_tol:g})")
