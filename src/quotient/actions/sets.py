"""Actions of S_n on sets, point clouds, graphs and molecules, and rigid motions of points.

Permutations follow :mod:`quotient.groups.symmetric`: element ``i`` moves to slot ``σ(i)``, so
``(σ·x)[j] = x[σ⁻¹(j)]``; on a graph ``A ↦ P A Pᵀ``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..groups.euclidean import rotation_part, translation_part
from ..groups.symmetric import invert_permutation
from ._core import Action, check_batch, check_ndim


def _check_perm(perm: Tensor, n: int, what: str) -> None:
    if perm.dim() != 2 or perm.shape[1] != n:
        raise ValueError(f"{what}: permutations must have shape (batch, {n}) to act on {n} "
                         f"elements, got {tuple(perm.shape)}")


def _gather_rows(x: Tensor, idx: Tensor) -> Tensor:
    """``out[b, j] = x[b, idx[b, j]]`` for any trailing shape."""
    view = idx.reshape(*idx.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, view)


def _permute_set(perm: Tensor, x: Tensor | tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    if isinstance(x, tuple):  # (elements, mask, per-element features, ...): all move together
        return tuple(_permute_set(perm, part) for part in x)
    if x.dim() < 2:
        raise ValueError(f"permute_set: expected shape (batch, n, ...), got {tuple(x.shape)}")
    check_batch(perm, x, "permute_set")
    _check_perm(perm, x.shape[1], "permute_set")
    return _gather_rows(x, invert_permutation(perm))


def _permute_graph(perm: Tensor, adj: Tensor | tuple[Tensor, ...]) -> Any:
    if isinstance(adj, tuple):  # (adjacency, mask or node features, ...)
        return (_permute_graph(perm, adj[0]), *(_permute_set(perm, p) for p in adj[1:]))
    if not hasattr(adj, "dim") or adj.dim() < 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"permute_graph: expected square adjacency (batch, n, n) or pairwise "
                         f"arrays (batch, n, n, ...), got {tuple(getattr(adj, 'shape', ()))}")
    check_batch(perm, adj, "permute_graph")
    _check_perm(perm, adj.shape[1], "permute_graph")
    inv = invert_permutation(perm)
    rows = _gather_rows(adj, inv)
    cols = inv[:, None, :].reshape(*inv.shape[:1], 1, inv.shape[1], *([1] * (adj.dim() - 3)))
    return torch.gather(rows, 2, cols.expand(-1, adj.shape[1], -1, *adj.shape[3:]))


def _check_points(x: Tensor, d: int | None, what: str) -> None:
    check_ndim(x, 3, "(batch, n_points, dim)", what)
    if d is not None and x.shape[-1] != d:
        raise ValueError(f"{what}: points have dimension {x.shape[-1]}, the group acts on ℝ^{d}")


def _rotate_points(rot: Tensor, x: Tensor) -> Tensor:
    _check_points(x, rot.shape[-1], "rotate_points")
    check_batch(rot, x, "rotate_points")
    return x @ rot.to(x.dtype).transpose(-1, -2)


def _translate_points(t: Tensor, x: Tensor) -> Tensor:
    _check_points(x, t.shape[-1], "translate_points")
    check_batch(t, x, "translate_points")
    return x + t.to(x.dtype)[:, None, :]


def _rigid_motion(g: Tensor, x: Tensor) -> Tensor:
    _check_points(x, g.shape[-1] - 1, "rigid_motion")
    check_batch(g, x, "rigid_motion")
    g = g.to(x.dtype)
    return x @ rotation_part(g).transpose(-1, -2) + translation_part(g)[:, None, :]


def _rigid_and_permute(g: tuple[Tensor, Tensor], x: Tensor | tuple[Tensor, ...]) -> Any:
    if not isinstance(g, tuple) or len(g) != 2:
        raise TypeError("rigid_motion_and_permute_points needs (rigid motion, permutation)")
    if isinstance(x, tuple):  # (points, mask, atom types, ...): only the points move in space
        return _permute_set(g[1], (_move_coordinates(g[0], x[0]), *x[1:]))
    return _permute_set(g[1], _move_coordinates(g[0], x))


def _move_coordinates(g: Tensor, x: Tensor) -> Tensor:
    """Rigid motion of points ``(B, n, d)``; rows ``(B, n, d + f)`` carry ``f`` per-point
    features after the coordinates (e.g. type probabilities), which do not move in space."""
    d = g.shape[-1] - 1
    if x.dim() == 3 and x.shape[-1] > d:
        return torch.cat([_rigid_motion(g, x[..., :d]), x[..., d:]], dim=-1)
    return _rigid_motion(g, x)


def _compose_permutations(g: Tensor, h: Tensor) -> Tensor:
    """``g∘h``; entries −1 of ``h`` (slots of padding, see ``masked_order``) stay −1."""
    _check_perm(h, g.shape[1], "compose_permutations")
    h = h.long()
    return torch.where(h >= 0, torch.gather(g, 1, h.clamp_min(0)), h)


def _compose_rigid_permutations(g: tuple[Tensor, Tensor], h: tuple[Tensor, Tensor]) -> tuple:
    return (g[0].to(h[0].dtype) @ h[0], _compose_permutations(g[1], h[1]))


def _molecule(g: tuple[Tensor, Tensor], mol: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    if not isinstance(mol, tuple) or len(mol) != 2:
        raise TypeError("act_molecule needs a molecule (positions (b, n, 3), atom types (b, n))")
    pos, types = mol
    if types.shape != pos.shape[:2]:
        raise ValueError(f"act_molecule: atom types {tuple(types.shape)} do not match "
                         f"positions {tuple(pos.shape)}")
    return _rigid_and_permute(g, pos), _permute_set(g[1], types)


permute_set = Action("permute_set", _permute_set, exact=True, groups=("Sn",),
                     note="(σ·x)[σ(i)] = x[i] along dim 1; a tuple (x, mask, ...) moves together")
"""The exact action ``permute_set`` (for Sn): (σ·x)[σ(i)] = x[i] along dim 1; a tuple (x, mask,
...) moves together."""
permute_points = Action("permute_points", _permute_set, exact=True, groups=("Sn",),
                        note="reorders the points of a cloud (b, n, d)")
"""The exact action ``permute_points`` (for Sn): reorders the points of a cloud (b, n, d)."""
permute_graph = Action("permute_graph", _permute_graph, exact=True, groups=("Sn",),
                       note="A ↦ P A Pᵀ on (batch, n, n, ...); a tuple (A, mask, ...) permutes "
                            "the rest as sets")
"""The exact action ``permute_graph`` (for Sn): A ↦ P A Pᵀ on (batch, n, n, ...); a tuple (A,
mask, ...) permutes the rest as sets."""
rotate_points = Action("rotate_points", _rotate_points, exact=True, groups=("SO3", "O3", "SO2"),
                       note="x ↦ R x for every point")
"""The exact action ``rotate_points`` (for SO3, O3, SO2): x ↦ R x for every point."""
translate_points = Action("translate_points", _translate_points, exact=True, groups=("T",),
                          note="x ↦ x + t")
"""The exact action ``translate_points`` (for T): x ↦ x + t."""
rigid_motion = Action("rigid_motion", _rigid_motion, exact=True, groups=("SE2", "E2", "SE3", "E3"),
                      note="x ↦ R x + t from homogeneous matrices")
"""The exact action ``rigid_motion`` (for SE2, E2, SE3, E3): x ↦ R x + t from homogeneous
matrices."""
rigid_motion_and_permute_points = Action(
    "rigid_motion_and_permute_points", _rigid_and_permute, exact=True,
    groups=("SE2 × Sn", "E2 × Sn", "SE3 × Sn", "E3 × Sn"),
    note="move every point, then reorder them; a tuple (points, mask, types, ...) reorders the "
         "rest with them; features after the d coordinates of a row only reorder")
"""The exact action ``rigid_motion_and_permute_points`` (for SE2 × Sn, E2 × Sn, SE3 × Sn, E3 ×
Sn): move every point, then reorder them; a tuple (points, mask, types, ...) reorders the rest
with them; features after the d coordinates of a row only reorder."""
permute_point_features = Action(
    "permute_point_features", lambda g, h: _permute_set(g[1], h), exact=True,
    groups=("SE2 × Sn", "E2 × Sn", "SE3 × Sn", "E3 × Sn"),
    note="per-point invariant features (B, n, c): reordered with the points, not moved")
"""The exact action ``permute_point_features`` (for SE2 × Sn, E2 × Sn, SE3 × Sn, E3 × Sn):
per-point invariant features (B, n, c): reordered with the points, not moved."""
compose_permutations = Action(
    "compose_permutations", _compose_permutations, exact=True, groups=("Sn",),
    note="S_n acting on its own elements by left multiplication, σ·τ = σ∘τ (poses)")
"""The exact action ``compose_permutations`` (for Sn): S_n acting on its own elements by left
multiplication, σ·τ = σ∘τ (poses)."""
compose_rigid_permutations = Action(
    "compose_rigid_permutations", _compose_rigid_permutations, exact=True,
    groups=("SE2 × Sn", "E2 × Sn", "SE3 × Sn", "E3 × Sn"),
    note="(rigid motion, permutation) acting on its own elements by left multiplication")
"""The exact action ``compose_rigid_permutations`` (for SE2 × Sn, E2 × Sn, SE3 × Sn, E3 × Sn):
(rigid motion, permutation) acting on its own elements by left multiplication."""
act_molecule = Action("act_molecule", _molecule, exact=True, groups=("SE3 × Sn", "E3 × Sn"),
                      note="(positions, atom types): move and reorder atoms together")
"""The exact action ``act_molecule`` (for SE3 × Sn, E3 × Sn): (positions, atom types): move and
reorder atoms together."""

__all__ = ["act_molecule", "compose_permutations", "compose_rigid_permutations",
           "permute_graph", "permute_point_features", "permute_points", "permute_set",
           "rigid_motion",
           "rigid_motion_and_permute_points", "rotate_points", "translate_points"]
