"""Stability of an equivariant stationary point ``A* ∈ E`` under EQUI and AUG.

Work in orthonormal coordinates ``u`` of ``L`` (per layer ``A = A* + Q_L u``). At ``A* ∈ H_G``
``∇²R^aug(A*) = ∫ ρ̄(g) ∇²R(A*) ρ̄(g)⁻¹ dg``, and under compatibility this is block diagonal:

* the **E-block** ``Π_E ∇²R^aug Π_E = Π_E ∇²R Π_E`` — the EQUI Hessian;
* the **E⊥-block** ``P_⊥ ∇²R^aug P_⊥`` on ``L ⊖ E`` (``P_⊥ = Π_L − Π_E``).

``A*`` is stable for EQUI iff the E-block is positive definite, and for AUG iff both blocks are; a
negative E⊥ eigenvalue ``λ`` makes ``A*`` a saddle of AUG, and a perturbation along its
eigenvector grows like ``e^{−λ t}`` under the AUG gradient flow. The regulariser
``(γ/2)‖Π_{E⊥}A‖²`` adds ``γ`` to the E⊥-block.

Hessian-vector products use double back-propagation through the model's ``risk()`` closure
(which must evaluate the model; pass the *augmented* risk for the AUG blocks). Small problems
build the blocks densely; large ones use Lanczos on the projected operators (never forming a
matrix of the network's size). The blocks decide stability only at a stationary point, so the
E-gradient is checked first (:class:`~quotient.dynamics.NonStationaryWarning`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._errors import SubspaceError
from ._linalg import lanczos
from .layers import subspace_layers
from .local import LocalModel, Risk
from .stationary import check_stationary, stationary_point
from .training import regulariser

__all__ = ["GrowthReport", "LocalModel", "Risk", "StabilityReport", "hessian_blocks",
           "newton_in_E", "perturbation_growth"]

@dataclass(frozen=True)
class StabilityReport:
    """Extreme eigenvalues of the two blocks and the verdicts.

    Attributes:
        e_min, e_max: extreme eigenvalues of the E-block (NaN if ``E = {0}``).
        perp_min, perp_max: extreme eigenvalues of the E⊥-block (NaN if ``L = E``).
        dim_E, dim_perp: block sizes.
        off_block: ``‖Π_E ∇²R P_⊥‖₂`` (dense method only; 0 under compatibility).
        gradient_E, gradient_perp: norms of the two parts of ``∇R`` at the point (stationarity).
        stable_equi, stable_aug: the verdicts (eigenvalues above ``tol``).
        method: ``"dense"`` or ``"lanczos"``.
        e_eigenvalues, perp_eigenvalues: all eigenvalues (dense) or the Ritz values (Lanczos).
        stationary: ``gradient_E ≤ gradient_tol`` (``True`` when no tolerance was set).
        gradient_tol: the tolerance of that check (``None``: not checked).
        e_residual, perp_residual: Lanczos only — the residual bound ``|β_k s_k|`` of the
            smallest Ritz value of each block (an eigenvalue of the block lies within it);
            0 for the dense method.
    """

    e_min: float
    e_max: float
    perp_min: float
    perp_max: float
    dim_E: int
    dim_perp: int
    off_block: float
    gradient_E: float
    gradient_perp: float
    stable_equi: bool
    stable_aug: bool
    method: str
    e_eigenvalues: Tensor
    perp_eigenvalues: Tensor
    stationary: bool = True
    gradient_tol: float | None = None
    e_residual: float = 0.0
    perp_residual: float = 0.0


def _block_bases(local: LocalModel) -> tuple[Tensor, Tensor]:
    p = torch.stack([local.project_E(e) for e in torch.eye(local.dim, dtype=torch.float64)], 1)
    vals, vecs = torch.linalg.eigh(0.5 * (p + p.T))
    return vecs[:, vals > 0.5], vecs[:, vals <= 0.5]


def _extremes(vals: Tensor) -> tuple[float, float]:
    if vals.numel() == 0:
        return math.nan, math.nan
    return float(vals.min()), float(vals.max())


def hessian_blocks(model: nn.Module, risk: Risk, *, method: str = "auto", dense_max: int = 600,
                   lanczos_steps: int = 60, tol: float = 1e-9,
                   gradient_tol: float | None = 1e-6, on_nonstationary: str = "warn",
                   generator: torch.Generator | None = None) -> StabilityReport:
    """The E-block and E⊥-block of ``∇²risk`` restricted to ``L`` at the model's current weights.

    The verdict is about a stationary point: the report carries ``‖Π_E ∇R‖`` and, above
    ``gradient_tol``, a :class:`~quotient.dynamics.NonStationaryWarning` is issued (or a
    :class:`~quotient.dynamics.NonStationaryError` raised) — move there first with
    :func:`~quotient.dynamics.stationary_point`.

    Args:
        model: a float64 model with subspace layers, at a stationary point in ``E``.
        risk: closure evaluating the risk of ``model`` — the exact augmented risk ``R^aug`` for
            the AUG verdict (its E-block equals the nominal one at points of ``E``).
        method: ``"dense"`` (all blocks from ``dim L`` Hessian-vector products), ``"lanczos"``
            (extreme eigenvalues only, for networks too large for a dense Hessian) or
            ``"auto"`` (dense up to ``dense_max`` coordinates).
        lanczos_steps: Lanczos iterations per block.
        tol: eigenvalues must exceed ``tol`` for a stable verdict.
        gradient_tol: largest ``‖Π_E ∇R‖`` accepted as stationary (absolute, in the risk's
            units); ``None`` skips the check.
        on_nonstationary: ``"warn"``, ``"raise"`` or ``"ignore"`` above ``gradient_tol``.
        generator: randomness of the Lanczos start vectors.
    """
    local = LocalModel(model, risk)
    method = ("dense" if local.dim <= dense_max else "lanczos") if method == "auto" else method
    if method not in ("dense", "lanczos"):
        raise SubspaceError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    grad = local.gradient().detach()
    grad_e = local.project_E(grad)
    g_e, g_p = float(grad_e.norm()), float((grad - grad_e).norm())
    stationary = check_stationary(g_e, gradient_tol, on_nonstationary)
    res_e = res_p = 0.0
    if method == "dense":
        ue, up = _block_bases(local)
        h = torch.stack([local.hvp(e) for e in torch.eye(local.dim, dtype=torch.float64)], 1)
        h = 0.5 * (h + h.T).detach()
        ev_e = torch.linalg.eigvalsh(ue.T @ h @ ue)
        ev_p = torch.linalg.eigvalsh(up.T @ h @ up)
        off = float(torch.linalg.matrix_norm(ue.T @ h @ up, ord=2)) if ue.shape[1] and \
            up.shape[1] else 0.0
        dim_e, dim_p = ue.shape[1], up.shape[1]
    else:
        ev_e, dim_e, res_e = _lanczos_block(local, True, lanczos_steps, generator)
        ev_p, dim_p, res_p = _lanczos_block(local, False, lanczos_steps, generator)
        off = math.nan
    e_min, e_max = _extremes(ev_e)
    p_min, p_max = _extremes(ev_p)
    stable_equi = dim_e == 0 or e_min > tol
    stable_aug = stable_equi and (dim_p == 0 or p_min > tol)
    return StabilityReport(e_min, e_max, p_min, p_max, dim_e, dim_p, off, g_e, g_p, stable_equi,
                           stable_aug, method, ev_e, ev_p, stationary, gradient_tol, res_e,
                           res_p)


def _lanczos_block(local: LocalModel, e_part: bool, steps: int,
                   generator: torch.Generator | None) -> tuple[Tensor, int, float]:
    def proj(v: Tensor) -> Tensor:
        pe = local.project_E(v)
        return pe if e_part else v - pe

    start = proj(torch.randn(local.dim, dtype=torch.float64, generator=generator))
    dim = sum(int(layer.geometry.dim_E) for layer in local.layers)
    dim = dim if e_part else local.dim - dim
    if dim == 0 or float(start.norm()) == 0.0:
        return torch.zeros(0, dtype=torch.float64), 0, 0.0
    vals, _, resid = lanczos(lambda v: proj(local.hvp(proj(v)).detach()), dim, start, steps,
                             residuals=True)
    return vals, dim, float(resid[0])


@dataclass(frozen=True)
class GrowthReport:
    """Growth of an E⊥ perturbation under plain gradient descent on a risk.

    Attributes:
        rate: fitted growth rate ``s`` in ``‖A − Π_E A‖ ≈ ε e^{s t}`` with ``t = η · step``.
        eigenvalue: the linearised rate it implies, ``(e^{η s} − 1)/η`` (a step multiplies the
            perturbation by ``1 + η r``); compare with ``−λ_min`` of the E⊥-block.
        distances: ``‖A − Π_E A‖`` at every step.
    """

    rate: float
    eigenvalue: float
    distances: list[float]


def perturbation_growth(model: nn.Module, risk: Risk, direction: list[Tensor], *, lr: float,
                        steps: int, eps: float = 1e-8, gamma: float = 0.0,
                        fit_below: float = 1e-4) -> GrowthReport:
    """Perturb the weights by ``eps · direction`` and run ``steps`` gradient steps on ``risk``.

    ``direction`` (one flat tensor per layer, normalised jointly to unit norm) should lie in
    ``L ⊖ E``. The rate is fitted by least squares to ``log ‖A − Π_E A‖`` over the steps where the
    distance is below ``fit_below`` (the linear regime). The model is modified in place.
    """
    layers = subspace_layers(model)
    norm = math.sqrt(sum(float(d.pow(2).sum()) for d in direction))
    if norm == 0:
        raise SubspaceError("the perturbation direction is zero")
    with torch.no_grad():
        for layer, d in zip(layers, direction, strict=True):
            a = layer.weight_flat() + eps * d.to(layer.coef.dtype) / norm
            layer.coef.copy_(layer.space.coefficients(a))
    dists = []
    for _ in range(steps + 1):
        with torch.no_grad():
            dists.append(math.sqrt(sum(layer.distance_to_E() ** 2 for layer in layers)))
        loss = risk()
        if gamma:
            loss = loss + gamma * regulariser(layers)
        grads = torch.autograd.grad(loss, [layer.coef for layer in layers])
        with torch.no_grad():
            for layer, g in zip(layers, grads, strict=True):
                layer.coef.sub_(lr * g)
    t = torch.arange(len(dists), dtype=torch.float64) * lr
    d = torch.tensor(dists, dtype=torch.float64)
    sel = (d < fit_below) & (d > 0)
    if int(sel.sum()) < 3:
        raise SubspaceError("too few steps in the linear regime to fit a rate; lower eps or lr")
    tt, ld = t[sel], torch.log(d[sel])
    slope = float(((tt - tt.mean()) * (ld - ld.mean())).sum() / ((tt - tt.mean()) ** 2).sum())
    return GrowthReport(slope, (math.exp(lr * slope) - 1) / lr, dists)


def newton_in_E(model: nn.Module, risk: Risk, *, iters: int = 30, tol: float = 1e-12) -> float:
    """Move the model to a stationary point of ``risk`` restricted to ``E``; kept for existing
    callers — :func:`~quotient.dynamics.stationary_point` (damped Newton with a line search)
    does the work and reports more.

    Returns:
        The final norm of the E-part of the gradient.
    """
    return stationary_point(model, risk, gtol=tol, max_iter=iters, project=False).gradient_E
