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

from ._base import DEFAULT_DTYPE, Element, Group, batch_size, repeat_element


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


# -- public constructors ------------------------------------------------------------------
def representation_from_function(group: Group, matrices: Callable[[Element], Tensor], dim: int,
                                 name: str = "custom", *,
                                 lie: Tensor | None = None) -> Representation:
    """A representation from a function ``g ↦ ρ(g)`` (batched: ``(batch, d, d)``).

    Args:
        group: the group.
        matrices: the function; it must be a homomorphism (not checked here — see
            :func:`representation_from_matrices` for a checked constructor).
        dim: ``d``.
        name: a readable name.
        lie: ``dρ(X_k)`` for the group's Lie-algebra basis, ``(k, d, d)``; ``None`` for finite
            groups (no generators).
    """
    if dim < 1:
        raise ValueError(f"a representation needs dimension >= 1, got {dim}")
    k = int(group.lie_algebra("trivial").shape[0])
    gens = torch.zeros(k, dim, dim, dtype=DEFAULT_DTYPE) if lie is None else \
        torch.as_tensor(lie, dtype=DEFAULT_DTYPE)
    if tuple(gens.shape) != (k, dim, dim):
        raise ValueError(f"lie must have shape ({k}, {dim}, {dim}) for {group.name}, got "
                         f"{tuple(gens.shape)}")
    return Representation(group, dim, name, matrices, lambda: gens)


def _finite(group: Group, what: str) -> None:
    if not group.is_finite:
        raise ValueError(f"{what} needs a finite group (all elements are listed); {group.name} is "
                         "not finite — use representation_from_function with Lie generators")


def _check_homomorphism(group: Group, mats: Tensor, name: str, atol: float) -> None:
    """``ρ(g h) = ρ(g) ρ(h)`` for every element ``g`` and generator ``h`` (which gives it for all
    ``h`` by induction), and ``ρ(e) = I``."""
    allg = group.elements()  # type: ignore[attr-defined]
    n, d = mats.shape[0], mats.shape[-1]
    gens = group.generators()  # type: ignore[attr-defined]
    m = batch_size(gens)
    eye = torch.eye(d, dtype=DEFAULT_DTYPE)
    if float((mats[0] - eye).abs().max()) > atol:
        raise ValueError(f"{name}: the matrix of the identity (the first element) is not I")
    prod = group.compose(repeat_element(allg, m), _tile_batch(gens, n))
    idx = group.index(prod).reshape(n, m)  # type: ignore[attr-defined]
    gen_idx = group.index(gens)  # type: ignore[attr-defined]
    err = (mats[idx] - mats[:, None] @ mats[gen_idx][None]).abs().max()
    if float(err) > atol:
        raise ValueError(f"{name}: these matrices are not a representation of {group.name}: "
                         f"ρ(g h) differs from ρ(g) ρ(h) by {float(err):.2e} for a generator h "
                         "(check the element order: group.elements())")


def _tile_batch(g: Element, n: int) -> Element:
    if isinstance(g, tuple):
        return tuple(_tile_batch(p, n) for p in g)
    return g.repeat(n, *([1] * (g.dim() - 1)))


def representation_from_matrices(group: Group, matrices: Tensor, name: str = "custom", *,
                                 check: bool = True, atol: float = 1e-9) -> Representation:
    """The representation of a finite group given by one matrix per element.

    Args:
        group: a finite group.
        matrices: ``(|G|, d, d)``, ``matrices[i] = ρ(group.elements()[i])`` (identity first).
        name: a readable name.
        check: verify ``ρ(g h) = ρ(g) ρ(h)`` for all elements ``g`` and generators ``h``.
        atol: tolerance of that check.

    Raises:
        ValueError: not a finite group, wrong shape, non-finite entries, or (``check``) the
            matrices are not a homomorphism.
    """
    _finite(group, "representation_from_matrices")
    mats = torch.as_tensor(matrices, dtype=DEFAULT_DTYPE).clone()
    n = group.order  # type: ignore[attr-defined]
    if mats.dim() != 3 or mats.shape[0] != n or mats.shape[1] != mats.shape[2]:
        raise ValueError(f"matrices must have shape ({n}, d, d) — one square matrix per element "
                         f"of {group.name} in group.elements() order — got {tuple(mats.shape)}")
    if not bool(torch.isfinite(mats).all()):
        raise ValueError("matrices contain NaN or infinite values")
    if check:
        _check_homomorphism(group, mats, name, atol)
    d = mats.shape[-1]

    def lookup(g: Element) -> Tensor:
        if batch_size(g) == 0:
            return torch.zeros(0, d, d, dtype=DEFAULT_DTYPE)
        return mats[group.index(g)]  # type: ignore[attr-defined]

    return representation_from_function(group, lookup, d, name)


def representation_from_generators(group: Group, generators: Tensor, name: str = "custom", *,
                                   atol: float = 1e-9) -> Representation:
    """The representation of a finite group fixed by the images of its generators.

    ``ρ`` is extended to every element along the Cayley graph (breadth first from the identity,
    ``ρ(g h) = ρ(g) ρ(h)`` for generators ``h``); it is well defined iff the matrices satisfy the
    group's relations, which is checked on every edge of the graph.

    Args:
        group: a finite group.
        generators: ``(m, d, d)`` with ``generators[j] = ρ(group.generators()[j])``.
        name: a readable name.
        atol: tolerance of the relation check.

    Raises:
        ValueError: not a finite group, the wrong number or shape of matrices, or matrices that
            violate a relation (e.g. ``r⁴ = e`` for C4).
    """
    _finite(group, "representation_from_generators")
    gens = group.generators()  # type: ignore[attr-defined]
    m = batch_size(gens)
    mats = torch.as_tensor(generators, dtype=DEFAULT_DTYPE)
    if mats.dim() != 3 or mats.shape[0] != m or mats.shape[1] != mats.shape[2]:
        raise ValueError(f"{group.name} has {m} generators (group.generators()); pass ({m}, d, d) "
                         f"matrices, got {tuple(mats.shape)}")
    if not bool(torch.isfinite(mats).all()):
        raise ValueError("generator matrices contain NaN or infinite values")
    n, d = group.order, mats.shape[-1]  # type: ignore[attr-defined]
    allg = group.elements()  # type: ignore[attr-defined]
    nxt = group.index(group.compose(repeat_element(allg, m), _tile_batch(gens, n))).reshape(
        n, m).tolist()  # type: ignore[attr-defined]
    table: list[Tensor | None] = [None] * n
    table[0] = torch.eye(d, dtype=DEFAULT_DTYPE)
    frontier = [0]
    while frontier:
        new = []
        for g in frontier:
            for j in range(m):
                h = nxt[g][j]
                if table[h] is None:
                    table[h] = table[g] @ mats[j]  # type: ignore[operator]
                    new.append(h)
        frontier = new
    if any(t is None for t in table):  # pragma: no cover - generators() generates by contract
        raise ValueError(f"group.generators() of {group.name} do not generate the group")
    full = torch.stack(table)  # type: ignore[arg-type]
    _check_homomorphism(group, full, name, atol)
    return representation_from_matrices(group, full, name, check=False)


def standard_representation(group: Group) -> Representation:
    """The standard representation in the textbook sense, ``group.rep("standard")``: for
    ``S_n`` the ``(n − 1)``-dimensional irreducible one on the sum-zero vectors
    ``{x ∈ ℝⁿ : Σ x_i = 0}`` in the orthonormal Helmert basis (``P_σ ≅ 1 ⊕ standard``); for
    C_n and D_n the rotations (and reflections) of the plane; for SO(3) rotations of space.

    Raises:
        ValueError: the group has no standard representation (e.g. S_1).
    """
    if "standard" not in group.representations:
        raise ValueError(f"{group.name} has no standard representation")
    return group.rep("standard")


def permutation_representation(group: Group) -> Representation:
    """The permutation representation on the group's natural set: ``S_n`` on ``{0..n−1}``,
    ``C_n`` and ``D_n`` on the ``n`` vertices of the regular n-gon (``P[σ(j), j] = 1``).

    Raises:
        ValueError: the group has no ``"permutation"`` kind.
    """
    if "permutation" not in group.representations:
        raise ValueError(f"{group.name} has no natural permutation representation; build one "
                         "with representation_from_generators")
    return group.rep("permutation")
