"""Equivariant frames of point clouds in the plane and in space: SO(d)/O(d), d ∈ {2, 3}.

A frame is a matrix ``R (B, d, d)`` with ``R(g·x) = R_g R(x)``, so ``Rᵀ(x − t)`` is invariant.
It is built from the centroid ``t`` and two equivariant vectors ``v_k(g·x) = R_g v_k(x)``.

**d = 3** (Gram–Schmidt)::

    e₁ = v₁/|v₁|,   e₂ = normalise(v₂ − (e₁·v₂) e₁),   e₃ = χ · e₁ × e₂,   R = [e₁ e₂ e₃].

**d = 2**: ``e₁ = v₁/|v₁|`` and ``e₂ = χ J e₁`` with ``J`` the turn by +90°
(``J(a, b) = (−b, a)``), ``R = [e₁ e₂]``. SE(2) (``proper``): ``χ = +1``, so ``v₂`` is not used
and ``det R = +1``. E(2): ``χ = sign(v₂ · J e₁)`` — the side of the axis on which the second
point lies, i.e. ``e₂`` is the Gram–Schmidt ``normalise(v₂ − (e₁·v₂) e₁)`` — so for a reflection
``Q`` (``J Q = −Q J``) the sign flips with the data and ``R(Qx) = Q R(x)``; ``χ = +1`` when
``v₂`` is on the axis (a collinear cloud, whose mirror image through its axis is itself). A
cloud whose points all sit at the centroid (``v₁ = 0``) gets ``e₁ = (1, 0)``: every frame is a
symmetry of it, and its frame coordinates are zero in any of them.

**Chirality (d = 3).** For SE(3) (``proper=True``) ``χ = +1``: ``det R = +1`` and ``Rᵀ(x − t)``
is invariant under rotations only, so a shape and its mirror image get different canonical
coordinates (the two chiral Tetris pieces stay apart). For E(3) (``proper=False``) ``χ`` is the
sign of the pseudoscalar ``p = Σ_i (u_i·(e₁ × e₂)) w_i`` of the centred points ``u_i = x_i − t``
with invariant weights ``w_i = |u_i|² + |u_i − v₁|² + |u_i − v₂|²`` (``p(Qx) = det(Q) p(x)``;
odd moments such as ``Σ (u_i·n)³`` would vanish identically for four points), so
``R(Qx) = Q R(x)`` also for reflections ``Q`` and mirror images share canonical coordinates;
the reflection is part of the pose (``det R = −1``). ``χ = +1`` when ``p = 0`` (e.g. planar
clouds, where a reflection through the plane is a rotation anyway).

Translation: ``t`` = the centroid of the real points (equivariant, and the least-squares optimal
translation for a canonical element centred at the origin).

:func:`anchor_frame` gets the two vectors without learned parameters by *individualising*
points, as canonical labelling algorithms do: ``v₁ = x_a − t`` for the point ``a`` farthest from
the centroid and ``v₂ = x_b − t`` for the point ``b`` farthest from the axis ``t + ℝv₁``. Being
points rather than averages, they break the symmetry of symmetric shapes (an average over a
symmetric shape is fixed by its stabiliser, e.g. zero for a square); ties between symmetric
points are broken by the data noise, and every such choice differs by a symmetry of the shape.

**Ties.** Those choices are discontinuous where two points tie, and a near-tie input can flip
them under rounding (in float32 one in ~10⁴ noisy Tetris shapes does, changing the code by
~1e-2). :func:`anchor_candidates` returns every choice within a relative margin of the
maximum, with smooth invariant weights (equal at an exact tie, exactly one for a clear winner),
so an encoder can blend its code over them and stay continuous and exactly invariant; its
``second="axis_anchor"`` key for ``v₂`` also breaks ties that are not symmetries of the shape
(mirror ties for SE(3), the accidental tie of two points opposite through the centroid). SE(2)
frames have no second point: only the ties of ``v₁`` are blended.

:func:`procrustes_rotation` (Kabsch) gives the rotation that best aligns a decoded canonical
element to the input under a given correspondence; it is equivariant and optimal, and is used
by :class:`~quotient.nn.pose_rigid.RigidPermutationPose` to refine the frame once the canonical
element is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "SUPPORTED_DIMS",
    "FrameCandidates",
    "anchor_candidates",
    "anchor_frame",
    "canonical_form",
    "centroid",
    "check_dim",
    "gram_schmidt",
    "principal_axes_frame",
    "procrustes_rotation",
]

SUPPORTED_DIMS = (2, 3)
"""The dimensions of the points the frames are defined for: the plane and space."""

_EPS = 1e-12
_COLLINEAR = 0.01
_CHIRAL_BIAS = 4.0


def check_dim(d: int, what: str) -> None:
    """Raise ``ValueError`` naming the supported dimensions unless ``d`` is 2 or 3."""
    if d not in SUPPORTED_DIMS:
        raise ValueError(f"{what}: points of dimension {d} are not supported; rigid frames are "
                         "defined for d = 2 or 3 (points in the plane, SE(2)/E(2), or in space, "
                         "SE(3)/E(3))")


def _normalise(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def _unit_or_first_axis(v: Tensor) -> Tensor:
    """``v/|v|``, and the first axis where ``v = 0`` (no direction to follow; the division is
    guarded so that neither the value nor the gradient becomes NaN)."""
    norm = v.norm(dim=-1, keepdim=True)
    some = norm > 0
    first = torch.zeros_like(v)
    first[..., 0] = 1.0
    return torch.where(some, v / torch.where(some, norm, torch.ones_like(norm)), first)


def _turn(e: Tensor) -> Tensor:
    """``J e``, the vectors ``e (..., 2)`` turned by +90°: ``(a, b) ↦ (−b, a)``."""
    return torch.stack([-e[..., 1], e[..., 0]], dim=-1)


def _plane_frame(v1: Tensor, v2: Tensor, proper: bool) -> Tensor:
    """``[e₁, χ J e₁] (B, 2, 2)``: ``χ = +1`` for SE(2), ``sign(v₂ · J e₁)`` for E(2)."""
    e1 = _unit_or_first_axis(v1)
    e2 = _turn(e1)
    if not proper:
        # v₂ on the negative side of the axis turns the second axis round (χ = +1 on the axis)
        chi = torch.where((v2 * e2).sum(-1) < 0, -1.0, 1.0).to(e2.dtype)
        e2 = e2 * chi[..., None]
    return torch.stack([e1, e2], dim=-1)


def _perpendicular(e1: Tensor, v2: Tensor) -> Tensor:
    """The unit vector along ``v₂ − (e₁·v₂) e₁`` (``e₁ (B, 3)`` a unit vector).

    Projected twice ("twice is enough", as in reorthogonalised Gram–Schmidt): when ``v₂`` is
    nearly parallel to ``e₁`` the first remainder is mostly rounding error, with a component
    along ``e₁`` as large as itself, and ``[e₁, e₂, e₁ × e₂]`` would not be orthogonal; after
    the second projection it is, to rounding. Where nothing is left of ``v₂`` (exactly
    parallel, or zero) ``e₂`` is ``e₁ ×`` the coordinate axis least aligned with ``e₁``: such
    a cloud is a line through the centroid, and every frame with ``e₁`` along it gives the same
    frame coordinates (0 off the axis), so the choice needs no equivariance.
    """
    rest = v2 - (e1 * v2).sum(-1, keepdim=True) * e1
    rest = rest - (e1 * rest).sum(-1, keepdim=True) * e1
    norm = rest.norm(dim=-1, keepdim=True)
    # "nothing left": below the rounding of the projection of v₂, relative to |v₂|
    some = norm > 64 * torch.finfo(v2.dtype).eps * v2.norm(dim=-1, keepdim=True)
    axis = torch.nn.functional.one_hot(e1.abs().argmin(dim=-1), 3).to(e1.dtype)
    fallback = _normalise(torch.cross(e1, axis, dim=-1))
    return torch.where(some, rest / torch.where(some, norm, torch.ones_like(norm)), fallback)


def gram_schmidt(v1: Tensor, v2: Tensor, *, proper: bool = True,
                 points: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
    """Frames ``(B, d, d)`` with columns ``e₁, …, e_d`` from ``v₁, v₂ (B, d)``, d ∈ {2, 3}.

    d = 3: with ``proper=False`` the handedness ``χ`` is the sign of the pseudoscalar of the
    centred ``points (B, n, 3)`` (required then; ``mask`` selects the real points; ``v₁, v₂``
    must be relative to the same origin). Parallel ``v₁, v₂`` have no equivariant frame; ``e₂``
    then follows whatever numerical noise ``v₂`` has.

    d = 2: ``[e₁, χ J e₁]`` with ``χ = +1`` (``proper``; ``v₂`` unused) or the side of the axis
    on which ``v₂`` lies (E(2)); ``points`` and ``mask`` are not needed. See the module notes.
    """
    d = v1.shape[-1]
    check_dim(d, "gram_schmidt")
    if d == 2:
        return _plane_frame(v1, v2, proper)
    e1 = _normalise(v1)
    e2 = _perpendicular(e1, v2)
    e3 = torch.cross(e1, e2, dim=-1)
    if not proper:
        if points is None:
            raise ValueError("gram_schmidt(proper=False) needs the centred points to fix the "
                             "handedness; pass points=x - t")
        weight = sum(((points - v[:, None, :]) ** 2).sum(-1) for v in (0 * v1, v1, v2))
        w = (points @ e3[:, :, None])[..., 0] * weight
        if mask is not None:
            w = w * mask.to(w.dtype)
        chi = torch.where(w.sum(dim=1) < 0, -1.0, 1.0).to(e3.dtype)
        e3 = e3 * chi[:, None]
    return torch.stack([e1, e2, e3], dim=-1)


def centroid(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean of the real points, ``(B, n, d) -> (B, d)``."""
    if mask is None:
        return x.mean(dim=1)
    m = mask[..., None].to(x.dtype)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


def _pick(u: Tensor, key: Tensor, allowed: Tensor) -> Tensor:
    idx = key.masked_fill(~allowed, float("-inf")).argmax(dim=1)
    return u.gather(1, idx[:, None, None].expand(-1, 1, u.shape[-1]))[:, 0]


def anchor_frame(x: Tensor, mask: Tensor | None = None, *, proper: bool = True,
                 priority: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Equivariant frame ``(R (B, d, d), t (B, d))`` of point clouds ``x (B, n, d)``, d ∈ {2, 3}.

    ``t`` = centroid; ``v₁`` = the point farthest from ``t`` (largest ``|x_i − t|² + priority_i``
    with an optional invariant per-point ``priority``, e.g. from atom types); ``v₂`` = the point
    farthest from the line through ``t`` along ``v₁``; ``R = gram_schmidt(v₁, v₂)`` (for SE(2)
    ``R = [e₁, J e₁]``, ``v₂`` unused). ``R(g·x) = R_g R(x)`` and ``t(g·x) = g·t(x)`` for rigid
    motions g (rotations and, with ``proper=False``, reflections), and both are invariant under
    permutations of the points (up to exact ties between points that are not symmetric to each
    other).
    """
    check_dim(x.shape[-1], "anchor_frame")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    t = centroid(x, mask)
    u = x - t[:, None, :]
    r2 = (u * u).sum(-1)
    key1 = _plane_anchor_key(u, r2, mask) if x.shape[-1] == 2 and proper else r2
    key1 = key1 if priority is None else key1 + priority
    v1 = _pick(u, key1, mask)
    e1 = _normalise(v1)
    along = (u @ e1[:, :, None])[..., 0]
    off_axis = r2 - along**2
    v2 = _pick(u, off_axis, mask)
    return gram_schmidt(v1, v2, proper=proper, points=u, mask=mask), t


HANDED = 4.0
"""Weight of the handed term in the anchor key of SE(2) frames (:func:`_plane_anchor_key`)."""


def _plane_anchor_key(u: Tensor, r2: Tensor, mask: Tensor) -> Tensor:
    """The key of the anchor of an SE(2) frame: ``r²_a + HANDED · r_max · h_a`` with the handed
    moment ``h_a = Σ_j (ê_a × u_j) r²_j / Σ_j r²_j`` (``×`` the 2-d cross product).

    Two mirror-image candidates (the ends of a T) tie in ``r²`` but give mirror-image (not
    rotated) frame coordinates, which no proper rotation relates; ``h`` has opposite signs for
    them, so the anchor is the same end of the shape whatever the noise. ``h`` is invariant
    under rotations and translations and moves with the points under permutations; candidates
    related by a rotation symmetry of the shape (the corners of a square) keep equal keys."""
    m = mask.to(u.dtype)
    e = _unit_or_first_axis(u)  # guarded: a point at the centroid has no direction
    cross = e[:, :, None, 0] * u[:, None, :, 1] - e[:, :, None, 1] * u[:, None, :, 0]
    h = (cross * (r2 * m)[:, None, :]).sum(-1) / (r2 * m).sum(-1, keepdim=True).clamp_min(
        torch.finfo(u.dtype).tiny)
    rmax = _sqrt(r2.masked_fill(~mask, 0.0).amax(dim=1, keepdim=True))
    return r2 + HANDED * rmax * h


def _smooth_cutoff(d: Tensor) -> Tensor:
    """``1 − 3d² + 2d³`` on ``[0, 1]``: 1 at ``d ≤ 0``, 0 at ``d ≥ 1``, continuously
    differentiable, ``|slope| ≤ 1.5``."""
    d = d.clamp(0.0, 1.0)
    return 1.0 - d * d * (3.0 - 2.0 * d)


def _cutoff_ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` where only values up to 1 matter (:func:`_smooth_cutoff` clamps the rest):
    ``min(num, den) / den``, so that the gradient stays finite when ``den`` is tiny; where
    ``den < 1e-150`` (a window shrunk to nothing: the weights are then piecewise constant) the
    value ``num / max(den, 1e-300)`` carries no gradient, as ``1/den²`` would overflow."""
    ok = den > 1e-150
    safe = torch.where(ok, den, torch.ones_like(den))
    tiny = (num / den.clamp_min(1e-300)).detach()
    return torch.where(ok, torch.minimum(num, safe) / safe, tiny)


def _tie_weights(key: Tensor, allowed: Tensor, window: Tensor) -> Tensor:
    """Weights over the last axis, summing to one: ``φ((max key − key) / window)`` normalised.
    The maximum always gets ``φ = 1`` and keys more than ``window`` below it get exactly 0, so a
    clear winner gets weight exactly 1 (``window = 0``: the argmax, ties shared equally)."""
    top = key.masked_fill(~allowed, float("-inf")).amax(dim=-1, keepdim=True)
    gap = (top - key).clamp_min(0.0)
    phi = _smooth_cutoff(_cutoff_ratio(gap, window[..., None])) * allowed.to(key.dtype)
    return phi / phi.sum(dim=-1, keepdim=True).clamp_min(_EPS)  # rows without a real point: 0


@dataclass
class FrameCandidates:
    """Weighted anchor frames of a batch of point clouds, see :func:`anchor_candidates`.

    Attributes:
        sample: the cloud of each candidate ``(M,)`` (sorted, every cloud at least once).
        weight: candidate weights ``(M,)``; they sum to one over the candidates of a cloud.
        rotation: candidate frames ``(M, d, d)``, each ``R_k(g·x) = R_g R_k(x)``.
        hard: the row of each cloud's single (argmax) choice, ``(B,)`` (with
            ``second="axis"`` the frame of :func:`anchor_frame`).
        translation: the centroids ``t (B, d)``.
        points: the indices ``(a, b)`` of the first and second anchor point of each candidate
            ``(M, 2)`` (positions in the input, so they move with permutations); ``b = a`` for
            SE(2), whose frames use no second point.
    """

    sample: Tensor
    weight: Tensor
    rotation: Tensor
    hard: Tensor
    translation: Tensor
    points: Tensor


def _sqrt(a: Tensor) -> Tensor:
    """``√max(a, 0)`` with a zero (not NaN) gradient at ``a ≤ 0`` (coincident points)."""
    some = a > 0
    return torch.where(some, torch.where(some, a, torch.ones_like(a)).sqrt(), torch.zeros_like(a))


def _second_key(u: Tensor, r2: Tensor, off: Tensor, mask: Tensor, proper: bool) -> Tensor:
    """``key₂(a, j) = off_aj · |u_j − u_a| · exp(λ p_aj)`` (``λ = 4``; ``p = 0`` unless
    ``proper``), see :func:`anchor_candidates`."""
    dist = _sqrt(((u[:, :, None, :] - u[:, None, :, :]) ** 2).sum(-1))  # 0 for j = a
    key = off.clamp_min(0.0) * dist
    if not proper:
        return key
    # pseudoscalar p_aj = det[u_a, u_j, m] / (r²_max Σ_i r²_i |u_i|) ∈ [−1, 1], m = Σ_i r²_i u_i
    m = (r2[..., None] * u).sum(dim=1)
    norm = (r2 * _sqrt(r2)).sum(dim=1) * r2.masked_fill(~mask, 0.0).amax(dim=1)
    det = (torch.cross(u, m[:, None, :].expand_as(u), dim=-1)[:, None, :, :]
           * u[:, :, None, :]).sum(-1)  # u_a · (u_j × m) = det[u_a, u_j, m]
    return key * torch.exp(_CHIRAL_BIAS * det / norm.clamp_min(1e-300)[:, None, None])


def anchor_candidates(x: Tensor, mask: Tensor | None = None, *, proper: bool = True,
                      width: float = 0.0, priority: Tensor | None = None,
                      second: Literal["axis", "axis_anchor"] = "axis") -> FrameCandidates:
    """All anchor frames of :func:`anchor_frame` within a tie margin, with smooth weights.

    ``x (B, n, d)``, d ∈ {2, 3}. The anchor choices (``v₁`` = farthest point, ``v₂`` = farthest
    from the axis) are discontinuous at ties: an input within rounding of a tie can flip the
    choice and move every frame coordinate. Blending a code over the candidates,
    ``z = Σ_k w_k z_k``, makes it continuous there while keeping it exactly invariant::

        w₁(a)   ∝ φ((max_j key_j − key_a) / (width · max_j r²_j))           (anchor a = v₁)
        w₂(b|a) ∝ φ((max_j k_aj − k_ab) / (width · max_j k_aj))             (b = v₂ given a)
        w(a, b) = w₁(a) w₂(b|a)

    with ``φ`` the C¹ cut-off :func:`_smooth_cutoff` (1 at the maximum, 0 from ``width`` below
    it) and ``k_aj`` the key of point ``j`` as second point for the anchor ``a``. With
    ``second="axis"`` it is ``off_aj``, the squared distance of ``x_j`` from the axis through
    ``t`` and ``x_a`` (the rule of :func:`anchor_frame`); with ``second="axis_anchor"`` it is
    ``off_aj · |x_j − x_a| · exp(4 p_aj)``, ``p_aj = det[u_a, u_j, m] / (r²_max Σ_i r²_i |u_i|)``
    with ``m = Σ_i r²_i u_i`` (for ``proper`` frames in 3-d only). The distance from the anchor
    breaks the accidental tie of two points opposite through the centroid (equally far from any
    axis through it) and the pseudoscalar ``p`` the tie of mirror-image points, whose two SE(3)
    frames give mirror-image (not rotated) frame coordinates; the ties left are symmetries of
    the shape, whose frames give the same frame coordinates up to the noise. SE(2) frames
    (``d = 2``, ``proper``) use no second point: one candidate per anchor, ``w(a, a) = w₁(a)``.
    The weights depend only on invariant distances (so they are invariant under rigid motions
    and move with the points under permutations), are continuous, give two exactly tied
    candidates equal weight, and give the single argmax choice weight exactly 1 when its margin
    exceeds ``width`` (relative to the largest ``r²``, respectively the largest ``off_aj``, so the
    weights are scale-invariant and a point on the axis never becomes ``v₂``).
    ``width = 0`` gives the single choice only. For near-collinear clouds (largest off-axis
    distance below 0.5–1% of ``r²_max``, e.g. a noisy line, whose off-axis distances are noise
    known to only a few digits) the window of ``v₂`` shrinks smoothly to 0: their ``v₂`` is the
    single argmax, discontinuous at its ties.
    """
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width!r}")
    check_dim(x.shape[-1], "anchor_candidates")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    b, n = mask.shape
    # SE(2): R₀ = [e₁, J e₁] is fixed by the anchor alone, so no second point is chosen
    no_second = x.shape[-1] == 2 and proper
    t = centroid(x, mask)
    u = (x - t[:, None, :]) * mask[..., None].to(x.dtype)
    r2 = (u * u).sum(-1)
    key1 = _plane_anchor_key(u, r2, mask) if no_second else r2
    key1 = key1 if priority is None else key1 + priority
    # anchor choices a (axis 1) and, for every anchor, the off-axis distances of the points j
    e1 = _normalise(u)
    along = e1 @ u.transpose(1, 2)  # (B, a, j) = e₁(a) · u_j
    off = r2[:, None, :] - along**2
    pair_ok = mask[:, :, None] & mask[:, None, :]
    hard_a = key1.masked_fill(~mask, float("-inf")).argmax(dim=1)
    if no_second:  # b = a: one candidate per anchor
        hard_b = torch.arange(n, device=x.device).expand(b, n).contiguous()
    else:
        key2 = off if second == "axis" else _second_key(u, r2, off, mask, proper)
        hard_b = key2.masked_fill(~pair_ok, float("-inf")).argmax(dim=2)  # (B, a)
    if width == 0:
        w1 = torch.zeros_like(r2).scatter_(1, hard_a[:, None], 1.0)
    else:
        r2max = r2.masked_fill(~mask, 0.0).amax(dim=1)
        w1 = _tie_weights(key1, mask, width * r2max)
    if width == 0 or no_second:
        w2 = torch.zeros_like(off).scatter_(2, hard_b[..., None], 1.0)
    else:
        offmax = off.masked_fill(~pair_ok, 0.0).amax(dim=2)
        # near-collinear clouds (largest off-axis distance below 1% of r²_max): the window
        # shrinks to 0, as their off-axis distances are noise known only to a few digits
        straight = 1.0 - _smooth_cutoff(_cutoff_ratio(offmax, _COLLINEAR * r2max[:, None])
                                        * 2.0 - 1.0)
        key2max = key2.masked_fill(~pair_ok, 0.0).amax(dim=2)
        w2 = _tie_weights(key2, pair_ok, width * straight * key2max)
    weights = w1[:, :, None] * w2  # (B, a, b)
    chosen = weights > 0
    chosen[torch.arange(b, device=x.device), hard_a,
           hard_b.gather(1, hard_a[:, None])[:, 0]] = True
    sample, ia, ib = chosen.nonzero(as_tuple=True)
    row = chosen.flatten(1).long().cumsum(1).view(b, n, n) - 1
    hard = row[torch.arange(b, device=x.device), hard_a, hard_b.gather(1, hard_a[:, None])[:, 0]]
    hard = hard + (chosen.flatten(1).sum(1).cumsum(0) - chosen.flatten(1).sum(1))
    us = u[sample]
    rot = gram_schmidt(us[torch.arange(len(sample), device=x.device), ia],
                       us[torch.arange(len(sample), device=x.device), ib], proper=proper,
                       points=us, mask=mask[sample])
    return FrameCandidates(sample, weights[sample, ia, ib], rot, hard, t,
                           torch.stack([ia, ib], dim=1))


def procrustes_rotation(source: Tensor, target: Tensor, weights: Tensor | None = None, *,
                        proper: bool = True) -> Tensor:
    """``argmin_R Σ_i w_i |target_i − R source_i|²`` over SO(d) (``proper``) or O(d), d ∈ {2, 3}.

    Both point sets ``(B, n, d)`` must already be centred. Computed in float64 by SVD of
    ``H = Σ w_i target_i source_iᵀ = U Σ Vᵀ``: ``R = U diag(1, …, 1, s) Vᵀ`` with
    ``s = sign det(U Vᵀ)`` for SO(d), ``s = 1`` for O(d). Equivariant: rotating the target by
    ``Q`` gives ``Q R``. The result carries no gradient (at the optimum the loss is stationary
    in ``R``, so the gradient with respect to the canonical element is still exact).
    """
    check_dim(source.shape[-1], "procrustes_rotation")
    s, tg = source.detach().double(), target.detach().double()
    if weights is not None:
        tg = tg * weights.detach().double()[..., None]
    h = tg.transpose(1, 2) @ s
    u, _, vh = torch.linalg.svd(h)
    if proper:
        d = torch.linalg.det(u @ vh).sign()
        d = torch.where(d == 0, torch.ones_like(d), d)
        # the smallest singular direction (the last column) takes the determinant's sign
        u = torch.cat([u[:, :, :-1], u[:, :, -1:] * d[:, None, None]], dim=2)
    return (u @ vh).to(source.dtype)


def principal_axes_frame(x: Tensor, mask: Tensor | None = None, *, proper: bool = True
                         ) -> tuple[Tensor, Tensor]:
    """The classical principal-axes frame ``(R (B, 3, 3), t (B, 3))`` of ``x (B, n, 3)``.

    ``t`` = centroid; the columns of ``R`` are the eigenvectors of ``Σ_i u_i u_iᵀ``
    (``u = x − t``) by decreasing eigenvalue, each signed so that the third moment
    ``Σ_i (u_i·e)³`` is positive; with ``proper`` the last is ``e₁ × e₂``. Equivariant only
    where the eigenvalues are distinct and the third moments non-zero: a molecule with a
    symmetric top (methane, benzene) has no defined axes, and rounding picks them. A baseline
    for :func:`canonical_form`, not a substitute.
    """
    check_dim(x.shape[-1], "principal_axes_frame")
    if x.shape[-1] != 3:
        raise ValueError("principal_axes_frame is defined for points in space (d = 3)")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    t = centroid(x, mask)
    u = (x - t[:, None, :]) * mask[..., None].to(x.dtype)
    _, vecs = torch.linalg.eigh(u.transpose(1, 2) @ u)
    axes = vecs.flip(-1)  # columns by decreasing variance
    axes = axes * torch.where(((u @ axes) ** 3).sum(1) < 0, -1.0, 1.0).to(x.dtype)[:, None, :]
    if proper:
        axes = torch.stack([axes[..., 0], axes[..., 1],
                            torch.cross(axes[..., 0], axes[..., 1], dim=-1)], dim=-1)
    return axes, t


def canonical_form(x: Tensor, mask: Tensor | None = None, *, proper: bool = True,
                   priority: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """An explicit canonicaliser of point clouds: ``(Rᵀ(x_i − t), R, t)`` with the single
    anchor frame of :func:`anchor_candidates` (``second="axis_anchor"``), no parameters.

    ``x (B, n, d)``, d ∈ {2, 3}, optional ``mask (B, n)`` and invariant per-point
    ``priority`` (e.g. a weight per atom type). For every rigid motion ``g`` (rotations, and
    reflections when ``proper=False``) and permutation ``σ`` the canonical points of ``g·σ·x``
    are those of ``x`` in the order ``σ`` (rows follow the input), up to rounding and up to ties
    between points that are not symmetric to each other; in float64 the QM9 molecules keep
    their canonical form to 3e-10 Å (``benchmarks/qm9_canonical.py``). Padding rows are 0.

    Returns:
        canonical ``(B, n, d)``, the frames ``R (B, d, d)`` and the centroids ``t (B, d)``.
    """
    cand = anchor_candidates(x, mask, proper=proper, priority=priority, second="axis_anchor")
    rot = cand.rotation[cand.hard]
    local = (x - cand.translation[:, None, :]) @ rot
    if mask is not None:
        local = local * mask[..., None].to(x.dtype)
    return local, rot, cand.translation
