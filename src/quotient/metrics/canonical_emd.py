"""How consistent a canonicaliser of point clouds is: the earth mover's distance between the
canonical form of a cloud and that of a rigidly moved, relabelled copy.

A canonicaliser ``c`` maps a cloud ``x`` (points in any order, anywhere in space) to a
representative ``c(x)`` of its orbit under rigid motions and relabellings. It is *consistent*
when ``c(g·x) = c(x)`` as point sets for every rigid motion ``g = (R, t)`` and permutation ``σ``;
its error on one cloud and one motion is

    EMD(c(x), c(g·x)) = min_π (1/n) Σ_i |c(x)_i − c(g·x)_π(i)|     (Å for molecules)

the earth mover's distance with uniform weights ``1/n`` and Euclidean ground cost. For two
clouds of equal size with uniform weights the optimal transport plan may be taken to be a
permutation (the vertices of the transport polytope are permutation matrices, Birkhoff–von
Neumann), so the EMD is exactly the assignment problem solved by
:func:`scipy.optimize.linear_sum_assignment`; no transport library is needed (the tests compare
it against POT's ``ot.emd2`` where POT is installed). With ``types`` the points are matched only
within a type (an infinite cost across types).

The protocol of :func:`canonical_emd` (after Baker et al., ICML 2024): ``copies`` random rigid
motions per cloud — a Haar-random rotation, a Gaussian translation of scale
``translation_scale`` and a uniformly random order of the real points — each compared with the
canonical form of the unmoved cloud.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..groups import haar_rotations

__all__ = ["CanonicalEMD", "Canonicaliser", "RigidCopies", "canonical_emd", "earth_movers_distance",
           "random_rigid_copies"]

Canonicaliser = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(positions (B, A, 3), types (B, A), mask (B, A)) -> the same three in canonical form``:
canonical positions, their types and which rows are real points (rows may be reordered)."""


def earth_movers_distance(a: np.ndarray, b: np.ndarray, types_a: np.ndarray | None = None,
                          types_b: np.ndarray | None = None) -> float:
    """Exact earth mover's distance between two clouds ``a, b (n, d)`` of equal size with
    uniform weights: ``min_π (1/n) Σ_i |a_i − b_π(i)|`` (optionally ``π`` keeping types).

    Raises:
        ValueError: clouds of different sizes or dimensions, or types that cannot be matched.
    """
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"earth_movers_distance needs two clouds of the same shape (n, d), got "
                         f"{a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("earth_movers_distance: got empty clouds")
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    if types_a is not None or types_b is not None:
        if types_a is None or types_b is None:
            raise ValueError("give types for both clouds or for neither")
        ta, tb = np.asarray(types_a), np.asarray(types_b)
        if sorted(ta.tolist()) != sorted(tb.tolist()):
            raise ValueError("the two clouds do not have the same types, so no type-preserving "
                             "matching exists")
        # larger than any real cost, so the optimum never crosses types (all costs stay finite)
        cost = np.where(ta[:, None] == tb[None, :], cost, cost.max() * len(a) + 1.0)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


@dataclass(frozen=True)
class RigidCopies:
    """``copies`` rigidly moved, relabelled copies of each of ``B`` clouds, flattened to
    ``B·copies`` rows (cloud-major).

    Attributes:
        positions: ``(B·copies, A, 3)``; types ``(B·copies, A)``; mask ``(B·copies, A)``.
        rotation ``(B·copies, 3, 3)``, translation ``(B·copies, 3)``: ``x ↦ x Rᵀ + t``.
        order ``(B·copies, A)``: row ``k`` of a copy is row ``order[k]`` of its cloud (real
            points shuffled among themselves, padding kept at its place).
    """

    positions: Tensor
    types: Tensor
    mask: Tensor
    rotation: Tensor
    translation: Tensor
    order: Tensor


def random_rigid_copies(positions: Tensor, types: Tensor, mask: Tensor, copies: int, *,
                        generator: torch.Generator, translation_scale: float = 5.0
                        ) -> RigidCopies:
    """Rigidly moved, relabelled copies (see :class:`RigidCopies`) of clouds
    ``positions (B, A, 3)`` with ``types (B, A)`` and ``mask (B, A)``, in the dtype of
    ``positions``."""
    b, a = mask.shape
    rot = haar_rotations(b * copies, generator=generator, dtype=positions.dtype)
    shift = translation_scale * torch.randn(b * copies, 3, generator=generator,
                                            dtype=torch.float64).to(positions.dtype)
    # random keys for the real rows, +inf for padding: argsort shuffles the real rows only
    # (padding rows are identical zeros, so where they land does not matter)
    keys = torch.rand(b * copies, a, generator=generator, dtype=torch.float64)
    mask_rep = mask.repeat_interleave(copies, dim=0)
    order = keys.masked_fill(~mask_rep, float("inf")).argsort(dim=1)
    pos = positions.repeat_interleave(copies, dim=0).gather(1, order[..., None].expand(-1, -1, 3))
    moved = (pos @ rot.transpose(1, 2) + shift[:, None, :]) * mask_rep.gather(1, order)[
        ..., None].to(positions.dtype)
    return RigidCopies(moved, types.repeat_interleave(copies, dim=0).gather(1, order),
                       mask_rep.gather(1, order), rot, shift, order)


@dataclass(frozen=True)
class CanonicalEMD:
    """Result of :func:`canonical_emd`.

    Attributes:
        emd: ``(B, copies)`` earth mover's distances (units of the positions).
        typed: ``(B, copies)`` the same with matching restricted to equal types.
    """

    emd: np.ndarray
    typed: np.ndarray

    def mean(self) -> float:
        """Mean over clouds and copies."""
        return float(self.emd.mean())


def _real(pos: Tensor, types: Tensor, mask: Tensor) -> tuple[np.ndarray, np.ndarray]:
    m = mask.cpu().numpy().astype(bool)
    return pos.detach().cpu().double().numpy()[m], types.cpu().numpy()[m]


def canonical_emd(canonicalize: Canonicaliser, positions: Tensor, types: Tensor, mask: Tensor,
                  *, copies: int = 10, seed: int = 0, translation_scale: float = 5.0,
                  batch_size: int = 500, progress: Callable[[int], None] | None = None
                  ) -> CanonicalEMD:
    """Consistency of ``canonicalize`` under rigid motions and relabellings (module docstring).

    Args:
        canonicalize: see :data:`Canonicaliser`; called without gradients on batches of the
            original clouds and of their copies.
        positions: ``(N, A, 3)`` (the dtype used throughout, e.g. float64); types ``(N, A)``;
            mask ``(N, A)`` True on real points.
        copies: random motions per cloud; seed: their seed.
        translation_scale: standard deviation of the translations.
        batch_size: clouds per call of ``canonicalize``.
        progress: called with the number of clouds done after each batch.

    Returns:
        :class:`CanonicalEMD` with ``(N, copies)`` distances.
    """
    if copies < 1 or batch_size < 1:
        raise ValueError(f"copies and batch_size must be positive, got {copies}, {batch_size}")
    if positions.dim() != 3 or positions.shape[-1] != 3 or positions.shape[:2] != mask.shape \
            or types.shape != mask.shape:
        raise ValueError(f"expected positions (N, A, 3), types (N, A) and mask (N, A), got "
                         f"{tuple(positions.shape)}, {tuple(types.shape)}, {tuple(mask.shape)}")
    gen = torch.Generator().manual_seed(seed)
    n = positions.shape[0]
    emd = np.zeros((n, copies))
    typed = np.zeros((n, copies))
    with torch.no_grad():
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            base = canonicalize(positions[sl], types[sl], mask[sl])
            moved = random_rigid_copies(positions[sl], types[sl], mask[sl], copies,
                                        generator=gen, translation_scale=translation_scale)
            out = canonicalize(moved.positions, moved.types, moved.mask)
            for i in range(sl.stop - sl.start):
                pa, ta = _real(base[0][i], base[1][i], base[2][i])
                for k in range(copies):
                    row = i * copies + k
                    pb, tb = _real(out[0][row], out[1][row], out[2][row])
                    emd[start + i, k] = earth_movers_distance(pa, pb)
                    typed[start + i, k] = earth_movers_distance(pa, pb, ta, tb)
            if progress is not None:
                progress(sl.stop)
    return CanonicalEMD(emd, typed)
