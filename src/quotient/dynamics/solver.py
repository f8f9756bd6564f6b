"""The equivariant subspace ``H_G = Hom_G(V_in, V_out)`` and its orthogonal projection Π_G.

For orthogonal representations ``ρ_in``, ``ρ_out`` the induced action on linear maps
``ρ̄(g) A = ρ_out(g) A ρ_in(g)⁻¹`` is orthogonal for the Frobenius inner product, and

    Π_G A = (1/|G|) Σ_g ρ̄(g) A        (finite G; the Reynolds operator)

is the orthogonal projection onto the fixed points ``H_G``. For a Lie group (or a mix), ``H_G`` is
the null space of the stacked constraints ``ρ̄(h) − I`` (discrete generators ``h``) and
``dρ̄(X) A = dρ_out(X) A − A dρ_in(X)`` (Lie-algebra generators ``X``).

:func:`solve_equivariant` returns an orthonormal basis ``Q`` (``(D, k)`` with ``D = d_out·d_in``,
row-major ``vec(A)``), so that ``Π_G = Q Qᵀ``. Methods:

* ``"orbit"`` — every generator acts by a signed permutation (permutation, regular and
  rotated-grid representations; convolution filters under C4/D4). ``ρ̄(h)`` then permutes the
  index pairs ``(a, b)`` with signs, and ``H_G`` is spanned by normalised orbit indicators
  (consistent orbits only). Exact, ``O(D)``; ``Q`` is materialised only when asked for.
* ``"reynolds"`` — finite groups: the Reynolds operator applied to ``k + 8`` random probe maps
  (``k`` from the character formula), then an SVD; never forms a ``D × D`` matrix.
* ``"nullspace"`` — Lie groups and mixes: SVD of the stacked ``D × D`` constraint matrices.
* ``"dense"`` — the same SVD route for finite groups (the baseline in the benchmark).

Every result is checked before it is returned: the constraint residual of ``Q``, ``QᵀQ = I``,
and, for finite groups where it is cheap, the dimension against the character formula
``dim H_G = (1/|G|) Σ_g χ_in(g) χ_out(g)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..groups import Representation, hom, index_element
from ._errors import SelfCheckError, SubspaceError
from ._linalg import check_finite, monomial_structure, null_space, orthonormalize, signed_orbits
from .basis import BasisCache, EquivariantBasis, fingerprint

METHODS = ("auto", "orbit", "reynolds", "nullspace", "dense")
MAX_DENSE = 12_000
"""Largest ``D = d_out·d_in`` for which the dense constraint SVD is attempted."""
MAX_ENUMERATED = 50_000
"""Largest finite group the Reynolds route enumerates (``S_8`` has 40 320 elements); ``"auto"``
uses the generators' null space for larger ones."""
CHUNK = 4_000_000
"""Number of matrix entries per chunk when iterating over group elements."""


def _size(m: Tensor) -> str:
    """``"d"`` for square ``(…, d, d)`` matrices, ``"r×c"`` for ``(…, r, c)`` ones."""
    r, c = m.shape[-2], m.shape[-1]
    return f"{c}" if r == c else f"{r}×{c}"


def _generators(rep_in: Representation, rep_out: Representation) -> tuple[Tensor, ...]:
    if rep_in.group is not rep_out.group:
        raise SubspaceError(
            f"rep_in and rep_out belong to different group objects ({rep_in.group.name}, "
            f"{rep_out.group.name}); build both from the same group instance")
    gi, go = rep_in.discrete_generators(), rep_out.discrete_generators()
    li, lo = rep_in.lie_generators(), rep_out.lie_generators()
    for t, what in ((gi, "rep_in generators"), (go, "rep_out generators"),
                    (li, "rep_in Lie generators"), (lo, "rep_out Lie generators")):
        check_finite(t, what)
    if tuple(gi.shape[-2:]) != (rep_in.dim,) * 2 or tuple(go.shape[-2:]) != (rep_out.dim,) * 2:
        raise SubspaceError(
            f"representation matrices have sizes {_size(gi)}, {_size(go)} but the "
            f"representations declare dimensions {rep_in.dim}, {rep_out.dim}")
    if li.shape[0] != lo.shape[0]:
        raise SubspaceError(f"rep_in has {li.shape[0]} Lie generators and rep_out "
                            f"{lo.shape[0]}; they must come from the same Lie algebra basis")
    for g, what in ((gi, "rep_in"), (go, "rep_out")):
        eye = torch.eye(g.shape[-1], dtype=torch.float64)
        if g.shape[0] and float((g @ g.transpose(1, 2) - eye).abs().max()) > 1e-9:
            raise SubspaceError(
                f"{what} ({what == 'rep_in' and rep_in.name or rep_out.name}) is not orthogonal "
                "on the group's generators; Π_G = QQᵀ is the group average only for orthogonal "
                "representations — change basis to make it orthogonal")
    for x, what in ((li, "rep_in"), (lo, "rep_out")):
        if x.shape[0] and float((x + x.transpose(1, 2)).abs().max()) > 1e-9:
            raise SubspaceError(f"{what} has Lie generators that are not antisymmetric (the "
                                "representation is not orthogonal); change basis first")
    return gi, go, li, lo


def _element_chunks(rep_in: Representation, rep_out: Representation,
                    inverse: bool = False) -> Any:
    """``(ρ_in(g), ρ_out(g))`` over all elements in chunks; with ``inverse`` also
    ``ρ_in(g⁻¹)`` — the exact inverse matrix from the group, no matrix inversion."""
    group = rep_in.group
    n = group.order  # type: ignore[attr-defined]
    step = max(1, CHUNK // (rep_in.dim ** 2 * (2 if inverse else 1) + rep_out.dim ** 2))
    allg = group.elements()  # type: ignore[attr-defined]
    for start in range(0, n, step):
        g = index_element(allg, slice(start, min(n, start + step)))
        if inverse:
            yield (rep_in(group.inverse(g)).to(torch.float64),
                   rep_out(g).to(torch.float64))
        else:
            yield rep_in(g).to(torch.float64), rep_out(g).to(torch.float64)


def character_dimension(rep_in: Representation, rep_out: Representation) -> int:
    """``dim Hom_G(V_in, V_out) = (1/|G|) Σ_g χ_in(g) χ_out(g)`` for real representations of a
    finite group (characters of real representations satisfy ``χ(g⁻¹) = χ(g)``).

    Raises:
        SubspaceError: the group is not finite, or the average is not an integer (then the maps
            are not a representation).
    """
    if not rep_in.group.is_finite or rep_in.group is not rep_out.group:
        raise SubspaceError("the character formula needs two representations of one finite group")
    total = 0.0
    for mi, mo in _element_chunks(rep_in, rep_out):
        total += float((mi.diagonal(dim1=1, dim2=2).sum(1) * mo.diagonal(dim1=1, dim2=2).sum(1))
                       .sum())
    value = total / rep_in.group.order  # type: ignore[attr-defined]
    if abs(value - round(value)) > 1e-6:
        raise SubspaceError(f"character average {value} is not an integer: these matrices do not "
                            "form representations of the group")
    return int(round(value))


def reynolds(rep_in: Representation, rep_out: Representation, a: Tensor) -> Tensor:
    """``Π_G A = (1/|G|) Σ_g ρ_out(g) A ρ_in(g)⁻¹`` for maps ``a`` ``(..., d_out, d_in)``.

    Works on the maps directly (chunks of group elements), never on ``D × D`` matrices.
    """
    if not rep_in.group.is_finite:
        raise SubspaceError("the Reynolds average needs a finite group; use solve_equivariant")
    if tuple(a.shape[-2:]) != (rep_out.dim, rep_in.dim):
        raise SubspaceError(f"maps have shape {tuple(a.shape[-2:])}, expected "
                            f"({rep_out.dim}, {rep_in.dim}) = (d_out, d_in)")
    check_finite(a, "the map to project")
    x = a.to(torch.float64).reshape(-1, rep_out.dim, rep_in.dim)
    n, do, di = x.shape
    acc = torch.zeros_like(x)
    flat = x.reshape(1, n * do, di)
    per_element = max(1, n * do * di)
    for inv, mo in _element_chunks(rep_in, rep_out, inverse=True):
        for s in range(0, inv.shape[0], max(1, CHUNK // per_element)):
            sl = slice(s, s + max(1, CHUNK // per_element))
            # A ρ_in(g⁻¹) for the whole batch of maps at once (only the small operand is
            # broadcast), then ρ_out(g) on the left, summed over the chunk's elements
            right = torch.matmul(flat, inv[sl]).reshape(-1, n, do, di)
            acc = acc + torch.einsum("cab,cnbd->nad", mo[sl], right)
    return (acc / rep_in.group.order).to(a.dtype).reshape(a.shape)  # type: ignore[attr-defined]


def constraint_matrices(rep_in: Representation, rep_out: Representation) -> Tensor:
    """The dense constraints ``ρ̄(h) − I`` and ``dρ̄(X)`` on row-major ``vec(A)``,
    ``(n_constraints, D, D)``."""
    d = rep_in.dim * rep_out.dim
    if d > MAX_DENSE:
        raise SubspaceError(f"D = {d} is too large for dense constraint matrices (max "
                            f"{MAX_DENSE}); use method='orbit' or 'reynolds'")
    h = hom(rep_in, rep_out)
    mats = [h.discrete_generators() - torch.eye(d, dtype=torch.float64)]
    lie = h.lie_generators()
    if lie.shape[0] and bool((lie != 0).any()):
        mats.append(lie)
    return torch.cat(mats)


def _residual(q: Tensor, gi: Tensor, go: Tensor, li: Tensor, lo: Tensor) -> float:
    """Largest entry of ``ρ̄(h)A − A`` and ``dρ_out A − A dρ_in`` over basis maps ``A``."""
    if q.shape[1] == 0:
        return 0.0
    a = q.T.reshape(q.shape[1], go.shape[-1], gi.shape[-1])
    worst = 0.0
    for j in range(gi.shape[0]):
        r = go[j] @ a @ gi[j].T - a
        worst = max(worst, float(r.abs().max()))
    for j in range(li.shape[0]):
        scale = 1.0 + float(li[j].abs().max()) + float(lo[j].abs().max())
        r = lo[j] @ a - a @ li[j]
        worst = max(worst, float(r.abs().max()) / scale)
    return worst


def _orbit_solve(gi: Tensor, go: Tensor) -> tuple[Tensor, Tensor, int, float] | None:
    si, so = monomial_structure(gi), monomial_structure(go)
    if si is None or so is None:
        return None
    (pi, sgi), (po, sgo) = si, so
    di = gi.shape[-1]
    perm = (po[:, :, None] * di + pi[:, None, :]).reshape(po.shape[0], -1)
    sign = (sgo[:, :, None] * sgi[:, None, :]).reshape(po.shape[0], -1)
    labels, t = signed_orbits(perm, sign)
    k = int(labels.max()) + 1 if labels.numel() and bool((labels >= 0).any()) else 0
    # exact structural self-check: each generator maps every orbit to itself with its signs
    worst = 0.0
    for j in range(perm.shape[0]):
        moved_lab = labels[perm[j]]
        moved_t = t[perm[j]]
        if not bool((moved_lab == labels).all()):
            worst = float("inf")
        worst = max(worst, float((moved_t - sign[j] * t).abs().max()))
    return labels, t, k, worst


def solve_equivariant(
    rep_in: Representation,
    rep_out: Representation,
    *,
    method: str = "auto",
    rtol: float = 1e-9,
    cache: BasisCache | None = None,
    check: bool = True,
    check_tol: float = 1e-9,
) -> EquivariantBasis:
    """Orthonormal basis of ``H_G = {A : ρ_out(g) A = A ρ_in(g) ∀g}``, ``Q`` of shape ``(D, k)``.

    Args:
        rep_in, rep_out: orthogonal representations of one group (``d_in``, ``d_out``).
        method: ``"auto"`` (orbit if every generator is a signed permutation and there is no Lie
            algebra, else Reynolds for finite groups of at most :data:`MAX_ENUMERATED`
            elements, else null space), or one of
            ``"orbit"``, ``"reynolds"``, ``"nullspace"``, ``"dense"``.
        rtol: relative rank tolerance of the SVDs (singular values ``≤ rtol·s_max`` are zero).
        cache: an optional :class:`BasisCache`.
        check: run the self-checks (residual, orthonormality, character formula).
        check_tol: tolerance of the self-checks.

    Raises:
        SubspaceError: bad input (different groups, non-finite or non-orthogonal matrices,
            unknown method, a method that does not apply).
        SelfCheckError: the computed basis failed its own check.
    """
    if method not in METHODS:
        raise SubspaceError(f"unknown method {method!r}; choose one of {METHODS}")
    gi, go, li, lo = _generators(rep_in, rep_out)
    key = f"{fingerprint(rep_in)}|{fingerprint(rep_out)}|{method}|{rtol}"
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    group = rep_in.group
    lie_free = not bool((li != 0).any()) and not bool((lo != 0).any())
    li, lo = (li[:0], lo[:0]) if lie_free else (li, lo)
    result: EquivariantBasis | None = None
    if method in ("auto", "orbit") and lie_free:
        solved = _orbit_solve(gi, go)
        if solved is not None:
            labels, t, k, worst = solved
            result = EquivariantBasis(rep_in, rep_out, "orbit", k, worst, labels, t)
        elif method == "orbit":
            raise SubspaceError("method='orbit' needs generators that act by signed permutations")
    elif method == "orbit":
        raise SubspaceError("method='orbit' does not apply to Lie groups")
    if result is None and method == "auto" and group.is_finite and \
            group.order > MAX_ENUMERATED:  # type: ignore[attr-defined]
        method = "nullspace"  # too many elements to average over: the generators suffice
    if result is None and method in ("auto", "reynolds") and group.is_finite:
        k_char = character_dimension(rep_in, rep_out)
        d = rep_in.dim * rep_out.dim
        n_probe = min(d, k_char + 8)
        gen = torch.Generator().manual_seed(0)
        probes = torch.randn(n_probe, rep_out.dim, rep_in.dim, generator=gen, dtype=torch.float64)
        y = reynolds(rep_in, rep_out, probes).reshape(n_probe, d).T
        q = orthonormalize(y, rtol) if k_char else y.new_zeros(d, 0)
        if q.shape[1] != k_char:
            raise SelfCheckError(f"Reynolds probes gave rank {q.shape[1]} but the character "
                                 f"formula says {k_char}; try another rtol")
        result = EquivariantBasis(rep_in, rep_out, "reynolds", k_char, 0.0, _basis=q)
    elif result is None and method == "reynolds":
        raise SubspaceError("method='reynolds' needs a finite group")
    if result is None:
        c = constraint_matrices(rep_in, rep_out) if (gi.shape[0] or not lie_free) else None
        d = rep_in.dim * rep_out.dim
        q = torch.eye(d, dtype=torch.float64) if c is None else null_space(
            c.reshape(-1, d), rtol)[0]
        result = EquivariantBasis(rep_in, rep_out, "dense" if method == "dense" else "nullspace",
                                  q.shape[1], 0.0, _basis=q)
    if check:
        _self_check(result, gi, go, li, lo, check_tol)
    if cache is not None:
        cache.put(key, result)
    return result


def _self_check(res: EquivariantBasis, gi: Tensor, go: Tensor, li: Tensor, lo: Tensor,
                tol: float) -> None:
    if res.labels is None:
        q = res.basis
        res.residual = _residual(q, gi, go, li, lo)
        gram = q.T @ q - torch.eye(q.shape[1], dtype=torch.float64)
        if q.shape[1] and float(gram.abs().max()) > tol:
            raise SelfCheckError(f"basis is not orthonormal: max |QᵀQ − I| = "
                                 f"{float(gram.abs().max()):.2e}")
    if not res.residual <= tol:
        raise SelfCheckError(f"{res.method} basis violates the constraints: residual "
                             f"{res.residual:.2e} > {tol:.1e}")
    group = res.rep_in.group
    affordable = group.is_finite and group.order * (  # type: ignore[attr-defined]
        res.rep_in.dim ** 2 + res.rep_out.dim ** 2) <= 5 * CHUNK
    if affordable and res.method != "reynolds":
        k_char = character_dimension(res.rep_in, res.rep_out)
        if k_char != res.dim:
            raise SelfCheckError(f"{res.method} basis has dimension {res.dim} but the character "
                                 f"formula gives {k_char}")
