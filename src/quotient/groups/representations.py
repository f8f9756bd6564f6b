"""Representations as objects, and the algebra the subspace solvers need.

A :class:`Representation` maps a batch of elements to matrices ``(batch, d, d)``. It also knows
its *discrete generators* ``ρ(h)`` and *Lie-algebra generators* ``dρ(X)``; a linear map ``A``
is equivariant for the whole (compact, finitely-generated-component) group iff it satisfies
``ρ_out(h) A = A ρ_in(h)`` and ``dρ_out(X) A = A dρ_in(X)`` for those generators.

Vectorisation is row-major (``A.reshape(-1)``), for which ``vec(B A C) = (B ⊗ Cᵀ) vec(A)``.
Hence the induced action on maps ``A ↦ ρ_out(g) A ρ_in(g)⁻¹`` is ``ρ_out ⊗ ρ_in^*`` with the
dual ``ρ^*(g) = ρ(g)⁻ᵀ``, :func:`hom`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Element, Group


def _kron(a: Tensor, b: Tensor) -> Tensor:
    """Batched Kronecker product of ``(B, m, m)`` and ``(B, n, n)`` -> ``(B, mn, mn)``."""
    bsz, m, _ = a.shape
    n = b.shape[1]
    return (a[:, :, None, :, None] * b[:, None, :, None, :]).reshape(bsz, m * n, m * n)


def _block_diag(mats: Sequence[Tensor]) -> Tensor:
    """Batched block-diagonal matrix of ``(B, d_i, d_i)`` blocks."""
    bsz = mats[0].shape[0]
    d = sum(m.shape[-1] for m in mats)
    out = mats[0].new_zeros(bsz, d, d)
    i = 0
    for m in mats:
        k = m.shape[-1]
        out[:, i:i + k, i:i + k] = m
        i += k
    return out


@dataclass(frozen=True)
class Representation:
    """A representation ``ρ: G → GL(d)`` built from a group's named ones by ⊕, ⊗ and duals.

    Attributes:
        group: the group.
        dim: ``d``.
        name: a readable description, e.g. ``"standard⊗standard*"``.
    """

    group: Group
    dim: int
    name: str
    _matrices: Callable[[Element], Tensor] = field(repr=False, compare=False)
    _lie: Callable[[], Tensor] = field(repr=False, compare=False)

    @staticmethod
    def of(group: Group, kind: str = "standard") -> Representation:
        """The named representation ``kind`` of ``group``."""
        dim = group.rep_dim(kind)
        return Representation(group, dim, kind,
                              lambda g: group.representation(g, kind).to(DEFAULT_DTYPE),
                              lambda: group.lie_algebra(kind))

    def __call__(self, g: Element) -> Tensor:
        """Matrices ``ρ(g)``, shape ``(batch, d, d)``."""
        return self._matrices(g)

    def lie_generators(self) -> Tensor:
        """``dρ(X_k)`` for a basis of the Lie algebra, ``(k, d, d)`` (``k = 0`` if finite)."""
        return self._lie().to(DEFAULT_DTYPE)

    def discrete_generators(self) -> Tensor:
        """``ρ(h)`` for the group's discrete generators, ``(m, d, d)``."""
        return self(self.group.discrete_generators()).to(DEFAULT_DTYPE)

    def elements(self) -> Tensor:
        """``ρ(g)`` for every element of a finite group, ``(|G|, d, d)``."""
        if not self.group.is_finite:
            raise TypeError(f"{self.group.name} is not finite; it has no element list")
        return self(self.group.elements()).to(DEFAULT_DTYPE)  # type: ignore[attr-defined]

    # -- algebra ---------------------------------------------------------------------
    def __add__(self, other: Representation) -> Representation:
        return direct_sum(self, other)

    def __mul__(self, other: Representation) -> Representation:
        return tensor(self, other)

    def __pow__(self, k: int) -> Representation:
        if k < 1:
            raise ValueError("tensor power needs k >= 1")
        out = self
        for _ in range(k - 1):
            out = tensor(out, self)
        return out

    def dual(self) -> Representation:
        """``ρ^*(g) = ρ(g)⁻ᵀ`` with ``dρ^*(X) = −dρ(X)ᵀ``."""
        return Representation(
            self.group, self.dim, f"{self.name}*",
            lambda g: torch.linalg.inv(self(g)).transpose(-1, -2),
            lambda: -self.lie_generators().transpose(-1, -2),
        )


def direct_sum(*reps: Representation) -> Representation:
    """``ρ_1 ⊕ ρ_2 ⊕ …`` (block diagonal)."""
    group = reps[0].group
    if any(r.group is not group for r in reps):
        raise ValueError("direct sum of representations of different group objects")
    return Representation(
        group, sum(r.dim for r in reps), "⊕".join(r.name for r in reps),
        lambda g: _block_diag([r(g) for r in reps]),
        lambda: _block_diag([r.lie_generators() for r in reps])
        if reps[0].lie_generators().shape[0] > 0
        else torch.zeros(0, sum(r.dim for r in reps), sum(r.dim for r in reps),
                         dtype=DEFAULT_DTYPE),
    )


def tensor(a: Representation, b: Representation) -> Representation:
    """``ρ_a ⊗ ρ_b`` with ``d(ρ_a ⊗ ρ_b)(X) = dρ_a(X) ⊗ I + I ⊗ dρ_b(X)``."""
    if a.group is not b.group:
        raise ValueError("tensor product of representations of different group objects")

    def lie() -> Tensor:
        la, lb = a.lie_generators(), b.lie_generators()
        k = la.shape[0]
        if k == 0:
            return torch.zeros(0, a.dim * b.dim, a.dim * b.dim, dtype=DEFAULT_DTYPE)
        ia = torch.eye(a.dim, dtype=DEFAULT_DTYPE).expand(k, -1, -1)
        ib = torch.eye(b.dim, dtype=DEFAULT_DTYPE).expand(k, -1, -1)
        return _kron(la, ib) + _kron(ia, lb)

    return Representation(a.group, a.dim * b.dim, f"({a.name}⊗{b.name})",
                          lambda g: _kron(a(g).to(DEFAULT_DTYPE), b(g).to(DEFAULT_DTYPE)), lie)


def hom(rep_in: Representation, rep_out: Representation) -> Representation:
    """The induced action on linear maps ``A: V_in → V_out``, ``A ↦ ρ_out(g) A ρ_in(g)⁻¹``.

    Acts on row-major ``vec(A)`` of length ``d_out · d_in``.
    """
    return tensor(rep_out, rep_in.dual())


def act_on_maps(rep_in: Representation, rep_out: Representation, g: Element,
                a: Tensor) -> Tensor:
    """``ρ_out(g) A ρ_in(g)⁻¹`` for maps ``a`` of shape ``(batch, d_out, d_in)``."""
    return rep_out(g).to(a.dtype) @ a @ torch.linalg.inv(rep_in(g).to(a.dtype))
