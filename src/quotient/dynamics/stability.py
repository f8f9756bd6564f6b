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
build the blocks densely; large ones use Lanczos on the projected operators.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._errors import SubspaceError
from ._linalg import lanczos
from .layers import SubspaceLayer, subspace_layers, substituted_coefficients
from .training import regulariser

Risk = Callable[[], Tensor]


class LocalModel:
    """The risk around the current weights as a function of orthonormal ``L``-coordinates.

    ``f(u) = R(A* + Q_L u)`` with ``u`` the concatenation over layers; :meth:`hvp` gives
    ``∇²f(0) v`` (the Hessian restricted to ``L``), :meth:`project_E` the projection onto
    ``Q_Lᵀ E``.
    """

    def __init__(self, model: nn.Module, risk: Risk) -> None:
        self.layers: list[SubspaceLayer] = subspace_layers(model)
        if not self.layers:
            raise SubspaceError("the model has no subspace layers")
        self.model, self.risk = model, risk
        self.sizes = [layer.space.n_coef for layer in self.layers]
        self.dim = sum(self.sizes)
        self.base = [layer.coef.detach().to(torch.float64).clone() for layer in self.layers]
        if any(layer.coef.dtype != torch.float64 for layer in self.layers):
            raise SubspaceError("stability analysis needs float64 coefficients")
        self._u = torch.zeros(self.dim, dtype=torch.float64, requires_grad=True)
        self._grad: Tensor | None = None

    def _split(self, u: Tensor) -> list[Tensor]:
        return list(torch.split(u, self.sizes))

    def coefs(self, u: Tensor) -> list[Tensor]:
        """Coefficient vectors of ``A* + Q_L u``."""
        return [c0 + layer.space.coefficients(layer.space.from_orthonormal(ui))
                for c0, layer, ui in zip(self.base, self.layers, self._split(u), strict=True)]

    def value(self, u: Tensor) -> Tensor:
        """``f(u)``."""
        with substituted_coefficients(self.model, self.coefs(u)):
            return self.risk()

    def gradient(self, u: Tensor | None = None) -> Tensor:
        """``∇f(u)`` (at 0 by default)."""
        u = self._u if u is None else u.detach().clone().requires_grad_(True)
        return torch.autograd.grad(self.value(u), u)[0]

    def hvp(self, v: Tensor) -> Tensor:
        """``∇²f(0) v``."""
        if self._grad is None:
            self._grad = torch.autograd.grad(self.value(self._u), self._u, create_graph=True)[0]
        return torch.autograd.grad(self._grad, self._u, grad_outputs=v, retain_graph=True)[0]

    def project_E(self, u: Tensor) -> Tensor:
        """``Q_Lᵀ Π_E Q_L u`` (the E part of a coordinate vector)."""
        parts = []
        for layer, ui in zip(self.layers, self._split(u), strict=True):
            a = layer.space.from_orthonormal(ui)
            parts.append(layer.space.to_orthonormal(layer.geometry.project_E(a)))
        return torch.cat(parts)

    def from_weights(self, weights: list[Tensor]) -> Tensor:
        """Coordinates ``Q_Lᵀ A`` of per-layer flat weights."""
        return torch.cat([layer.space.to_orthonormal(w.to(torch.float64))
                          for layer, w in zip(self.layers, weights, strict=True)])


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
                   generator: torch.Generator | None = None) -> StabilityReport:
    """The E-block and E⊥-block of ``∇²risk`` restricted to ``L`` at the model's current weights.

    Args:
        model: a float64 model with subspace layers, at (or near) a point of ``E``.
        risk: closure evaluating the risk of ``model`` — the exact augmented risk ``R^aug`` for
            the AUG verdict (its E-block equals the nominal one at points of ``E``).
        method: ``"dense"`` (all blocks from ``dim L`` Hessian-vector products), ``"lanczos"``
            (extreme eigenvalues only) or ``"auto"`` (dense up to ``dense_max`` coordinates).
        lanczos_steps: Lanczos iterations per block.
        tol: eigenvalues must exceed ``tol`` for a stable verdict.
        generator: randomness of the Lanczos start vectors.
    """
    local = LocalModel(model, risk)
    method = ("dense" if local.dim <= dense_max else "lanczos") if method == "auto" else method
    if method not in ("dense", "lanczos"):
        raise SubspaceError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    grad = local.gradient().detach()
    grad_e = local.project_E(grad)
    g_e, g_p = float(grad_e.norm()), float((grad - grad_e).norm())
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
        ev_e, dim_e = _lanczos_block(local, True, lanczos_steps, generator)
        ev_p, dim_p = _lanczos_block(local, False, lanczos_steps, generator)
        off = math.nan
    e_min, e_max = _extremes(ev_e)
    p_min, p_max = _extremes(ev_p)
    stable_equi = dim_e == 0 or e_min > tol
    stable_aug = stable_equi and (dim_p == 0 or p_min > tol)
    return StabilityReport(e_min, e_max, p_min, p_max, dim_e, dim_p, off, g_e, g_p, stable_equi,
                           stable_aug, method, ev_e, ev_p)


def _lanczos_block(local: LocalModel, e_part: bool, steps: int,
                   generator: torch.Generator | None) -> tuple[Tensor, int]:
    def proj(v: Tensor) -> Tensor:
        pe = local.project_E(v)
        return pe if e_part else v - pe

    start = proj(torch.randn(local.dim, dtype=torch.float64, generator=generator))
    dim = sum(int(layer.geometry.dim_E) for layer in local.layers)
    dim = dim if e_part else local.dim - dim
    if dim == 0 or float(start.norm()) == 0.0:
        return torch.zeros(0, dtype=torch.float64), 0
    vals, _ = lanczos(lambda v: proj(local.hvp(proj(v)).detach()), dim, start, steps)
    return vals, dim


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
    """Move the model to a stationary point of ``risk`` restricted to ``E`` (Newton steps in an
    orthonormal basis of ``E``, dense E-block; for small ``E``). The model must start in ``E``.

    Returns:
        The final norm of the E-part of the gradient.
    """
    g_norm = math.inf
    for _ in range(iters):
        local = LocalModel(model, risk)
        ue, _ = _block_bases(local)
        if ue.shape[1] == 0:
            return 0.0
        g = ue.T @ local.gradient().detach()
        g_norm = float(g.norm())
        if g_norm <= tol:
            break
        h = torch.stack([ue.T @ local.hvp(ue[:, j]).detach() for j in range(ue.shape[1])], 1)
        step = torch.linalg.solve(0.5 * (h + h.T), g)
        with torch.no_grad():
            for layer, c in zip(local.layers, local.coefs(-(ue @ step)), strict=True):
                layer.coef.copy_(c)
    return g_norm
