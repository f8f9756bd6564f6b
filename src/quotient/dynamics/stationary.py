"""Stationary points of a risk restricted to ``E``: a damped Newton (Levenberg–Marquardt)
method with a backtracking line search, in the orthonormal coordinates of ``E``.

With ``z`` the coordinates of ``E`` around the current weights, ``g = ∇_z R`` (the norm of the
E-part of ``∇R``, ``‖Π_E ∇R‖``) and ``H = ∇²_z R`` (the E-block of the Hessian), one iteration
solves

    (H + μ I) d = −g,    μ = μ_adaptive + max(0, −λ_min(H)) + μ_floor,

so the system is always positive definite — a zero or negative eigenvalue of ``H`` (the
softmax's invariance to adding a constant to every logit makes cross-entropy Hessians singular)
never reaches a solver — and ``d`` is a descent direction. The step ``α d`` takes the largest
``α ∈ {1, ½, ¼, …}`` with the Armijo decrease ``R(z + αd) ≤ R(z) + 10⁻⁴ α gᵀd``. A full step
lowers the adaptive part of ``μ`` (towards Newton's quadratic convergence), a shortened one
raises it (towards gradient descent). Small ``E`` use the dense E-block (``dim E`` Hessian-vector
products and an eigendecomposition); large ones solve the damped system by conjugate gradients
on Hessian-vector products, stopping at negative curvature.

A stationary point needs a smooth risk with a finite minimiser: cross-entropy on data the
network can separate decreases towards infinity (add weight decay), and ReLU networks are only
piecewise smooth (the gradient may not vanish at their minima); the result then reports
``converged = False`` with the gradient reached.

Far from a stationary point, Newton's method spends many Hessian-vector products (each costs
about two gradients) on directions of negative curvature and on long conjugate-gradient solves.
:func:`lbfgs_in_E` gets there on gradients alone: the limited-memory BFGS method (strong-Wolfe
line search) on the coefficients, with every gradient projected onto ``C_E = {c : B c ∈ E}``, so
that the iterates never leave ``E``. It accepts float32 models (a cheap approach phase); finish
and certify with :func:`stationary_point` in float64.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ._errors import SubspaceError
from .layers import SubspaceLayer, distance_to_E, flat_weights, project_to_E, subspace_layers
from .local import LocalModel, Risk

ARMIJO = 1e-4

Progress = Callable[[int, float, float], None]
"""Called after every iteration with ``(iteration, risk, ‖Π_E ∇R‖)``."""


class NonStationaryWarning(UserWarning):
    """A stability verdict was asked for at weights that are not a stationary point in ``E``
    (the E-part of the gradient exceeds the tolerance): its eigenvalues describe a point the
    dynamics would leave. Move there first with :func:`~quotient.dynamics.stationary_point`."""


class NonStationaryError(SubspaceError):
    """Raised instead of :class:`NonStationaryWarning` when asked to refuse."""


@dataclass(frozen=True)
class StationaryResult:
    """The outcome of :func:`stationary_point`.

    Attributes:
        converged: the E-gradient norm reached ``gtol``.
        gradient_E: final ``‖Π_E ∇R‖``.
        risk: final risk.
        iterations: iterations done.
        method: ``"dense"``, ``"cg"`` or ``"lbfgs"``.
        history: per iteration ``(risk, ‖Π_E ∇R‖, μ, step length α)`` (``μ`` and ``α`` are 0
            for ``"lbfgs"``, whose entries are every ``check_every`` iterations).
        message: why it stopped.
    """

    converged: bool
    gradient_E: float
    risk: float
    iterations: int
    method: str
    history: list[tuple[float, float, float, float]] = field(default_factory=list)
    message: str = ""


def _e_basis(local: LocalModel) -> Tensor:
    """Orthonormal basis of ``E`` in the ``L``-coordinates of ``local``, ``(dim L, dim E)``."""
    blocks = []
    for layer in local.layers:
        q = layer.geometry.basis_E  # (D, dim E), orthonormal weights in E ⊆ L
        blocks.append(layer.space.to_orthonormal(q.T).T if q.shape[1] else
                      q.new_zeros(layer.space.n_coef, 0))
    return torch.block_diag(*blocks)


def _dense_direction(local: LocalModel, u: Tensor, g: Tensor,
                     mu: float, floor: float) -> tuple[Tensor, float]:
    h = torch.stack([u.T @ local.hvp(u[:, j]).detach() for j in range(u.shape[1])], 1)
    lam, vecs = torch.linalg.eigh(0.5 * (h + h.T))
    shift = mu + max(0.0, -float(lam.min())) + floor * max(1.0, float(lam.abs().max()))
    coef = -(vecs.T @ (u.T @ g)) / (lam + shift)
    return u @ (vecs @ coef), shift


def _cg_direction(local: LocalModel, g: Tensor, mu: float, iters: int) -> tuple[Tensor, float]:
    """Approximately solve ``(P H P + μ I) d = −g`` on ``E`` (``g ∈ E``)."""
    d = torch.zeros_like(g)
    r = -g.clone()
    p = r.clone()
    rr = float(r @ r)
    stop = 1e-10 * rr
    for _ in range(iters):
        hp = local.project_E(local.hvp(p).detach()) + mu * p
        curv = float(p @ hp)
        if curv <= 1e-14 * float(p @ p):
            return (d if float(d.norm()) > 0 else -g), mu  # negative curvature: stop here
        a = rr / curv
        d = d + a * p
        r = r - a * hp
        rr_new = float(r @ r)
        if rr_new <= stop:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return d, mu


def stationary_point(model: nn.Module, risk: Risk, *, gtol: float = 1e-10, max_iter: int = 100,
                     method: str = "auto", dense_max: int = 400, damping: float = 1e-3,
                     damping_floor: float = 1e-12, cg_iters: int = 200,
                     project: bool = True, progress: Progress | None = None) -> StationaryResult:
    """Move ``model`` (in place) to a stationary point of ``risk`` restricted to ``E``.

    Args:
        model: a float64 network with subspace layers.
        risk: closure evaluating the risk of ``model`` (cross-entropy, MSE, with or without
            exact augmentation — at points of ``E`` the augmented and nominal E-gradients agree).
        gtol: stop when ``‖Π_E ∇R‖ ≤ gtol``.
        max_iter: most iterations.
        method: ``"dense"`` (E-block from ``dim E`` Hessian-vector products), ``"cg"``
            (conjugate gradients on Hessian-vector products) or ``"auto"`` (dense up to
            ``dense_max``).
        damping: the initial adaptive part of ``μ``.
        damping_floor: ``μ`` exceeds ``−λ_min`` by at least this (relative to ``max |λ|``).
        cg_iters: conjugate-gradient iterations per step.
        project: project the weights onto ``E`` first (else they must already lie in ``E``).
        progress: called after every iteration with ``(iteration, risk, ‖Π_E ∇R‖)``.

    Returns:
        A :class:`StationaryResult`; ``converged`` is ``False`` when ``max_iter`` ran out or no
        step decreased the risk any more (then ``gradient_E`` says how far it got).

    Raises:
        SubspaceError: unknown method, weights outside ``E`` with ``project=False``, a risk that
            is not finite.
    """
    if method not in ("auto", "dense", "cg"):
        raise SubspaceError(f"method must be 'auto', 'dense' or 'cg', got {method!r}")
    if project:
        project_to_E(model)
    scale = math.sqrt(sum(float(w.pow(2).sum()) for w in flat_weights(model)))
    if distance_to_E(model) > 1e-9 * max(scale, 1.0):
        raise SubspaceError("the weights are not in E; call project_to_E(model) first or pass "
                            "project=True")
    history: list[tuple[float, float, float, float]] = []
    mu, g_norm, value, message = damping, math.inf, math.nan, "max_iter reached"
    chosen = method
    it = 0
    for it in range(max_iter + 1):
        local = LocalModel(model, risk)
        if chosen == "auto":
            chosen = "dense" if sum(layer.geometry.dim_E for layer in local.layers) <= \
                dense_max else "cg"
        with torch.no_grad():
            value = float(local.value(torch.zeros(local.dim, dtype=torch.float64)))
        if not math.isfinite(value):
            raise SubspaceError(f"the risk is {value} at iteration {it}")
        g = local.project_E(local.gradient().detach())
        g_norm = float(g.norm())
        if progress is not None:
            progress(it, value, g_norm)
        if g_norm <= gtol:
            message = "converged"
            history.append((value, g_norm, mu, 0.0))
            break
        if it == max_iter:
            history.append((value, g_norm, mu, 0.0))
            break
        if chosen == "dense":
            direction, used = _dense_direction(local, _e_basis(local), g, mu, damping_floor)
        else:
            direction, used = _cg_direction(local, g, mu, cg_iters)
        slope = float(g @ direction)
        if slope >= 0:  # cannot happen for a positive definite system; guard rounding
            direction, slope = -g, -g_norm ** 2
        alpha, accepted = 1.0, False
        with torch.no_grad():
            for _ in range(40):
                trial = float(local.value(alpha * direction))
                if math.isfinite(trial) and trial <= value + ARMIJO * alpha * slope:
                    accepted = True
                    break
                alpha *= 0.5
        history.append((value, g_norm, used, alpha if accepted else 0.0))
        if not accepted:
            message = "no step decreases the risk (rounding level reached)"
            break
        with torch.no_grad():
            for layer, c in zip(local.layers, local.coefs(alpha * direction), strict=True):
                layer.coef.copy_(c.to(layer.coef.dtype))
        mu = max(mu / 4.0, 1e-14) if alpha == 1.0 else min(mu * 4.0 + 1e-6, 1e12)
    return StationaryResult(g_norm <= gtol, g_norm, value, it, chosen, history, message)


def _e_gradient(layers: list[SubspaceLayer], risk: Risk) -> tuple[float, Tensor]:
    """The risk and its coefficient gradient projected onto ``C_E`` (flat, float64)."""
    coefs = [layer.coef for layer in layers]
    value = risk()
    grads = torch.autograd.grad(value, coefs, allow_unused=True)
    with torch.no_grad():
        flat = [layer.geometry.project_coef_E(torch.zeros_like(c) if g is None else g)
                for layer, c, g in zip(layers, coefs, grads, strict=True)]
    return float(value.detach()), torch.cat([g.reshape(-1).double() for g in flat])


def _set_coefs(layers: list[SubspaceLayer], flat: Tensor) -> None:
    with torch.no_grad():
        for layer, c in zip(layers, torch.split(flat, [ly.coef.numel() for ly in layers]),
                            strict=True):
            layer.coef.copy_(c.reshape(layer.coef.shape).to(layer.coef.dtype))


def _two_loop(g: Tensor, pairs: list[tuple[Tensor, Tensor, float]]) -> Tensor:
    """``−H g`` for the L-BFGS inverse-Hessian estimate of the stored ``(s, y, 1/yᵀs)``."""
    q = -g.clone()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)  # the usual scaling of the initial estimate
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        q += (a - rho * float(y @ q)) * s
    return q


def lbfgs_in_E(model: nn.Module, risk: Risk, *, gtol: float = 1e-6, max_iter: int = 1000,
               history_size: int = 30, check_every: int = 25, project: bool = True,
               progress: Progress | None = None) -> StationaryResult:
    """Move ``model`` (in place) towards a stationary point of ``risk`` restricted to ``E`` by
    L-BFGS on gradients alone (no Hessian-vector products).

    The iteration runs on the coefficients ``c`` with the gradient ``g = P_{C_E} ∇_c R``; its
    directions are combinations of such gradients and of differences of iterates, so the
    iterates stay in ``C_E`` (projected back every ``check_every`` iterations against
    rounding). A step ``α d`` takes the largest ``α ∈ {1, ½, …}`` with the Armijo decrease; a
    pair ``(s, y)`` enters the memory only with positive curvature ``yᵀs > 10⁻¹⁰ ‖y‖ ‖s‖``
    (a relative test, so that the memory keeps learning close to the solution). For an
    orthonormal basis ``‖g‖ = ‖Π_E ∇R‖``, the norm that decides convergence; for a
    non-orthonormal one it is an equivalent norm, so certify the result with
    :func:`stationary_point`.

    Args:
        model: a network with subspace layers, float32 or float64 (float32 is several times
            faster on a CPU and fine for approaching; its gradient stalls near ``1e-6``).
        risk: closure evaluating the risk of ``model`` on all its data (a full-batch risk).
        gtol: stop when ``‖g‖ ≤ gtol``.
        max_iter: most iterations (each one gradient, more when the step is shortened).
        history_size: pairs kept for the inverse-Hessian estimate.
        check_every: iterations between projections, history entries and ``progress``.
        project: project the weights onto ``E`` first.
        progress: called every ``check_every`` iterations with ``(iteration, risk, ‖g‖)``.

    Returns:
        A :class:`StationaryResult` with ``method = "lbfgs"``.

    Raises:
        SubspaceError: no subspace layers, a risk that is not finite.
    """
    layers = subspace_layers(model)
    if not layers:
        raise SubspaceError(f"{type(model).__name__} has no subspace layers")
    if project:
        project_to_E(model)
    x = torch.cat([layer.coef.detach().reshape(-1).double() for layer in layers])
    value, g = _e_gradient(layers, risk)
    pairs: list[tuple[Tensor, Tensor, float]] = []
    history: list[tuple[float, float, float, float]] = []
    message, it = "max_iter reached", 0
    for it in range(max_iter + 1):
        g_norm = float(g.norm())
        if not math.isfinite(value):
            raise SubspaceError(f"the risk is {value} after {it} L-BFGS iterations")
        if it % check_every == 0 or g_norm <= gtol or it == max_iter:
            history.append((value, g_norm, 0.0, 0.0))
            if progress is not None:
                progress(it, value, g_norm)
        if g_norm <= gtol:
            message = "converged"
            break
        if it == max_iter:
            break
        d = _two_loop(g, pairs)
        slope = float(g @ d)
        if slope >= 0:  # a stale memory: start again from the gradient
            pairs.clear()
            d, slope = -g, -g_norm ** 2
        alpha = 1.0 if pairs else min(1.0, 1.0 / g_norm)
        for _ in range(20):  # trial values without gradients; 2⁻²⁰: rounding has won
            _set_coefs(layers, x + alpha * d)
            with torch.no_grad():
                trial = float(risk())
            if math.isfinite(trial) and trial <= value + ARMIJO * alpha * slope:
                break
            alpha *= 0.5
        else:
            _set_coefs(layers, x)
            message = "no step decreases the risk (rounding level reached)"
            history.append((value, g_norm, 0.0, 0.0))
            break
        if (it + 1) % check_every == 0:
            project_to_E(model)  # rounding only: the directions lie in C_E
        trial, g_new = _e_gradient(layers, risk)
        x_new = torch.cat([layer.coef.detach().reshape(-1).double() for layer in layers])
        s, y = x_new - x, g_new - g  # the step taken (float32 coefficients round it)
        sy = float(s @ y)
        if sy > 1e-10 * float(s.norm()) * float(y.norm()):
            pairs.append((s, y, 1.0 / sy))
            del pairs[:-history_size]
        x, value, g = x_new, trial, g_new
    return StationaryResult(g_norm <= gtol, g_norm, value, it, "lbfgs", history, message)


def check_stationary(gradient_E: float, tol: float | None, action: str) -> bool:
    """``gradient_E ≤ tol`` (always ``True`` without a tolerance); otherwise warn, raise or
    stay quiet according to ``action`` (``"warn"``, ``"raise"``, ``"ignore"``)."""
    if action not in ("warn", "raise", "ignore"):
        raise SubspaceError(f"on_nonstationary must be 'warn', 'raise' or 'ignore', got "
                            f"{action!r}")
    if tol is None or gradient_E <= tol:
        return True
    text = (f"the E-part of the gradient is {gradient_E:.3g} > {tol:.1g}: these weights are not a "
            "stationary point in E, so the Hessian blocks do not decide its stability; move "
            "there first with quotient.dynamics.stationary_point(model, risk)")
    if action == "raise":
        raise NonStationaryError(text)
    if action == "warn":
        warnings.warn(text, NonStationaryWarning, stacklevel=3)
    return False
