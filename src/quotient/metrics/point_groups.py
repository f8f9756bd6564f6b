"""The symmetry of a point cloud with types (a molecule): its rank, its symmetry operations and
its point group in Schoenflies notation.

A *symmetry operation* of points ``x_i ∈ ℝ³`` with types ``τ_i`` is an orthogonal map ``Q``
about the centroid ``c`` that permutes the points and keeps their types:
``Q(x_i − c) = x_σ(i) − c`` and ``τ_σ(i) = τ_i`` for a permutation ``σ``, up to a distance
tolerance (a real molecule is symmetric only to the precision of its geometry optimisation).
The operations form a finite group for clouds of rank 3 or 2; a collinear cloud (rank 1) has
the infinite groups ``C∞v`` or ``D∞h`` (with the inversion), a single point ``Kh``.

**Rank** (:func:`point_cloud_rank`): the number of principal axes along which the centred
cloud extends by more than ``tol`` (root-mean-square extent ``s_k/√n`` with ``s_k`` the
singular values of the centred coordinates): 1 for a line, 2 for a plane, 3 otherwise.

**Finding the operations** (:func:`symmetry_operations`): pick the point ``p`` farthest from
the centroid and the point ``q`` that with it spans the largest area,
``M = [u_p, u_q, u_p × u_q]`` (``u = x − c``). An operation maps ``u_p, u_q`` to two points
``u_p', u_q'`` of the same types, radii and mutual angle, and ``u_p × u_q`` to
``±u_p' × u_q'`` (``+`` for rotations, ``−`` for improper operations); so every candidate pair
gives ``Q = M' M⁻¹``, made exactly orthogonal by its polar factor, and is kept when it maps
every point within ``tol`` of a distinct point of its type. There are at most ``n²`` candidates
and most fail the radius and angle filters at once.

**Classification** (:func:`schoenflies`) from the group alone: the rotation subgroup ``H`` (its
order ``h`` and largest rotation order ``n``) is cyclic ``C_n`` (``h = n``), dihedral ``D_n``
(``h = 2n``) or polyhedral (``T``: ``h = 12, n = 3``; ``O``: 24, 4; ``I``: 60, 5); the improper
operations then decide the suffix by the number of mirror planes ``m`` (improper operations
with trace 1) and the inversion::

    C_n:  none → C_n;  m = 0 → S_2n (Ci for n = 1);  n = 1, m = 1 → Cs;  m = 1 → C_nh;
          m = n → C_nv
    D_n:  none → D_n;  m = n + 1 → D_nh;  m = n → D_nd
    T:    inversion → Th;  other improper → Td;   O → Oh;   I → Ih
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PointGroup", "point_cloud_rank", "point_group", "point_group_counts", "schoenflies",
           "symmetry_operations"]

_DEFAULT_TOL = 0.01  # Å for molecules: far below bond lengths, above optimisation noise


@dataclass(frozen=True)
class PointGroup:
    """The symmetry of one point cloud.

    Attributes:
        name: Schoenflies symbol (``"C1"``, ``"Cs"``, ``"C2v"``, ``"D6h"``, ``"Td"``,
            ``"C∞v"``, ``"D∞h"``, ``"Kh"`` …).
        rank: the cloud's rank (:func:`point_cloud_rank`), 0 to 3.
        order: number of symmetry operations (0 for the infinite groups of rank ≤ 1).
        operations: the operations ``(order, 3, 3)`` about the centroid (empty for rank ≤ 1).
    """

    name: str
    rank: int
    order: int
    operations: np.ndarray


def _centred(points: np.ndarray) -> np.ndarray:
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"points must have shape (n, 3), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("points: got an empty point cloud")
    if not np.isfinite(x).all():
        raise ValueError("points contain NaN or infinite coordinates")
    return x - x.mean(axis=0)


def point_cloud_rank(points: np.ndarray, tol: float = _DEFAULT_TOL) -> int:
    """Number of principal axes with root-mean-square extent ``s_k/√n > tol``: 0 (all points
    at one place), 1 (collinear), 2 (coplanar) or 3. ``points (n, 3)``."""
    u = _centred(points)
    s = np.linalg.svd(u, compute_uv=False)
    return int((s / math.sqrt(u.shape[0]) > tol).sum())


def _types(types: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if types is None:
        return np.zeros(n, dtype=np.int64)
    t = np.asarray(types)
    if t.shape != (n,):
        raise ValueError(f"types must have shape ({n},) to match the points, got {t.shape}")
    return t


def _match(q: np.ndarray, u: np.ndarray, types: np.ndarray, tol: float) -> np.ndarray | None:
    """The permutation ``σ`` with ``Q u_i`` within ``tol`` of ``u_σ(i)`` (same type, distinct
    images), or None."""
    image = u @ q.T
    d = np.linalg.norm(image[:, None, :] - u[None, :, :], axis=-1)
    d[types[:, None] != types[None, :]] = np.inf
    nearest = d.argmin(axis=1)
    if d[np.arange(len(u)), nearest].max() > tol or len(set(nearest.tolist())) != len(u):
        return None
    return nearest


def _maps_onto(q: np.ndarray, u: np.ndarray, types: np.ndarray, tol: float) -> bool:
    """Whether ``Q u_i`` lands within ``tol`` of distinct points of the same type."""
    return _match(q, u, types, tol) is not None


def _fit(u: np.ndarray, target: np.ndarray, sign: float) -> np.ndarray:
    """The orthogonal ``Q`` with ``det Q = sign`` minimising ``Σ_i |Q u_i − target_i|²``
    (Kabsch): it spreads the error of a near-symmetric cloud over all its points."""
    a, _, bt = np.linalg.svd(target.T @ u)
    d = np.ones(3)
    d[2] = sign * np.sign(np.linalg.det(a @ bt))
    return (a * d) @ bt


def _polar(m: np.ndarray) -> np.ndarray:
    """The orthogonal factor ``U Vᵀ`` of ``m = U S Vᵀ`` (nearest orthogonal matrix)."""
    a, _, bt = np.linalg.svd(m)
    return a @ bt


def symmetry_operations(points: np.ndarray, types: Sequence[int] | np.ndarray | None = None,
                        tol: float = _DEFAULT_TOL) -> np.ndarray:
    """All symmetry operations ``Q (k, 3, 3)`` of a point cloud of rank ≥ 2 (see the module).

    Args:
        points: ``(n, 3)`` coordinates (any units; ``tol`` is in the same units).
        types: ``(n,)`` labels that an operation must keep (e.g. atomic numbers); None: all
            points alike.
        tol: largest distance between a moved point and its image.

    Raises:
        ValueError: a cloud of rank ≤ 1 (its group is infinite), malformed input, ``tol ≤ 0``.
    """
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    u = _centred(points)
    t = _types(types, len(u))
    if point_cloud_rank(points, tol) < 2:
        raise ValueError("symmetry_operations: the points are collinear (rank <= 1), so their "
                         "symmetry group is infinite; use point_group for its name")
    r = np.linalg.norm(u, axis=1)
    p = int(r.argmax())
    area = np.linalg.norm(np.cross(u[p], u), axis=1)
    q = int(area.argmax())
    basis = np.stack([u[p], u[q], np.cross(u[p], u[q])], axis=1)
    inverse = np.linalg.inv(basis)
    dot = float(u[p] @ u[q])
    # a point moved by at most tol changes its radius by tol and a dot product by ~tol·(|a|+|b|)
    cand_p = np.flatnonzero((t == t[p]) & (np.abs(r - r[p]) <= 2 * tol))
    cand_q = np.flatnonzero((t == t[q]) & (np.abs(r - r[q]) <= 2 * tol))
    ops: list[np.ndarray] = []
    for a in cand_p:
        dots = u[cand_q] @ u[a]
        for b in cand_q[np.abs(dots - dot) <= 2 * tol * (r[p] + r[q])]:
            if b == a:
                continue
            w = np.cross(u[a], u[b])
            for sign in (1.0, -1.0):
                guess = _polar(np.stack([u[a], u[b], sign * w], axis=1) @ inverse)
                # the guess rests on two points only, so it may miss the others by a few tol;
                # the least-squares fit over the matched points decides
                sigma = _match(guess, u, t, 4 * tol)
                if sigma is None:
                    continue
                qm = _fit(u, u[sigma], sign)
                if _maps_onto(qm, u, t, tol) and not any(
                        np.abs(qm - o).max() < 1e-6 for o in ops):
                    ops.append(qm)
    return np.stack(ops) if ops else np.eye(3)[None]


def _rotation_angle(r: np.ndarray) -> float:
    return math.acos(max(-1.0, min(1.0, (float(np.trace(r)) - 1.0) / 2.0)))


def schoenflies(operations: np.ndarray) -> str:
    """The Schoenflies symbol of a finite group of orthogonal 3×3 matrices ``(k, 3, 3)``
    (classification in the module docstring).

    Raises:
        ValueError: the operations do not form one of the finite point groups.
    """
    ops = np.asarray(operations, dtype=np.float64)
    if ops.ndim != 3 or ops.shape[1:] != (3, 3) or len(ops) == 0:
        raise ValueError(f"operations must have shape (k, 3, 3), got {ops.shape}")
    det = np.linalg.det(ops)
    proper, improper = ops[det > 0], ops[det < 0]
    h = len(proper)
    angles = [_rotation_angle(r) for r in proper]
    turns = [a for a in angles if a > 1e-6]
    n = round(2 * math.pi / min(turns)) if turns else 1
    mirrors = sum(1 for s in improper if abs(float(np.trace(s)) - 1.0) < 1e-6)
    inversion = any(np.abs(s + np.eye(3)).max() < 1e-6 for s in improper)
    has_improper = len(improper) > 0
    if (h, n) in ((12, 3), (24, 4), (60, 5)):
        base = {3: "T", 4: "O", 5: "I"}[n]
        if not has_improper:
            return base
        if base == "T":
            return "Th" if inversion else "Td"
        return base + "h"
    if h == n:
        if not has_improper:
            return f"C{n}"
        if mirrors == 0:
            return "Ci" if n == 1 else f"S{2 * n}"
        if n == 1:
            return "Cs"
        if mirrors == 1:
            return f"C{n}h"
        if mirrors == n:
            return f"C{n}v"
    elif h == 2 * n:
        if not has_improper:
            return f"D{n}"
        if mirrors == n + 1:
            return f"D{n}h"
        if mirrors == n:
            return f"D{n}d"
    raise ValueError(f"the {len(ops)} operations are not a finite point group "
                     f"({h} rotations, largest order {n}, {mirrors} mirror planes)")


def point_group(points: np.ndarray, types: Sequence[int] | np.ndarray | None = None,
                tol: float = _DEFAULT_TOL) -> PointGroup:
    """The point group of a cloud ``points (n, 3)`` with optional ``types (n,)``.

    Collinear clouds get ``C∞v`` or ``D∞h`` (whether the inversion through the centroid maps
    the typed points onto themselves), a cloud at one place ``Kh``; others the Schoenflies
    symbol of :func:`symmetry_operations` (:func:`schoenflies`).

    >>> import numpy as np
    >>> methane = np.array([[0, 0, 0], [1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * 0.63
    >>> point_group(methane, types=[6, 1, 1, 1, 1]).name
    'Td'
    """
    u = _centred(points)
    t = _types(types, len(u))
    rank = point_cloud_rank(points, tol)
    if rank == 0:
        return PointGroup("Kh", 0, 0, np.zeros((0, 3, 3)))
    if rank == 1:
        inverted = _maps_onto(-np.eye(3), u, t, tol)
        return PointGroup("D∞h" if inverted else "C∞v", 1, 0, np.zeros((0, 3, 3)))
    ops = symmetry_operations(points, t, tol)
    return PointGroup(schoenflies(ops), rank, len(ops), ops)


def point_group_counts(groups: Sequence[PointGroup]) -> dict[str, int]:
    """How many clouds have each point group, most common first."""
    return dict(Counter(g.name for g in groups).most_common())
