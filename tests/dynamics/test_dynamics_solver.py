"""The equivariant subspace solver: projections, dimensions, Lie groups, cache, errors."""

from __future__ import annotations

import pytest
import torch

from quotient.actions import dihedral_image, rot90_image
from quotient.dynamics import (
    BasisCache,
    SelfCheckError,
    SubspaceError,
    character_dimension,
    copies,
    grid_representation,
    identity_representation,
    reynolds,
    solve_equivariant,
)
from quotient.dynamics._linalg import orbit_labels, signed_orbits
from quotient.groups import (
    O3,
    SO2,
    SO3,
    CyclicGroup,
    DihedralGroup,
    Representation,
    SymmetricGroup,
    product,
    tensor,
)


def _equivariance_residual(basis, rep_in, rep_out, g) -> float:
    q = basis.basis
    a = q.T.reshape(q.shape[1], rep_out.dim, rep_in.dim)
    ri, ro = rep_in(g).to(torch.float64), rep_out(g).to(torch.float64)
    moved = torch.einsum("gij,kjl,gml->gkim", ro, a, ri)  # ρ_out A ρ_inᵀ
    return float((moved - a[None]).abs().max()) if q.shape[1] else 0.0


def _assert_projector(p: torch.Tensor) -> None:
    assert float((p @ p - p).abs().max()) <= 1e-12
    assert float((p - p.T).abs().max()) <= 1e-12


C4, D4 = CyclicGroup(4), DihedralGroup(4)
FINITE_CASES = [
    (C4, "regular", "regular"), (C4, "standard", "regular"), (C4, "standard", "standard"),
    (D4, "regular", "regular"), (D4, "standard", "regular"), (D4, "standard", "standard"),
    (D4, "sign", "standard"), (D4, "regular", "sign"),
    (SymmetricGroup(3), "regular", "permutation"), (SymmetricGroup(4), "regular", "regular"),
    (SymmetricGroup(5), "regular", "standard"), (SymmetricGroup(5), "permutation", "regular"),
    (SymmetricGroup(6), "permutation", "permutation"), (SymmetricGroup(6), "regular", "standard"),
    (product(C4, CyclicGroup(2)), "regular", "regular"),
    (product(C4, D4), "standard@0", "regular@1"), (product(D4, C4), "regular", "standard@1"),
    (product(SymmetricGroup(3), C4), "regular", "permutation@0"),
]


@pytest.mark.parametrize(("group", "kin", "kout"), FINITE_CASES,
                         ids=[f"{g.name}:{a}->{b}" for g, a, b in FINITE_CASES])
def test_dimension_matches_character_formula(group, kin, kout):
    rin, rout = group.rep(kin), group.rep(kout)
    basis = solve_equivariant(rin, rout, check=False)
    assert basis.dim == character_dimension(rin, rout)
    assert _equivariance_residual(basis, rin, rout, group.elements()) <= 1e-12


def test_tensor_representations_and_methods_agree():
    """orbit, Reynolds and dense SVD give the same projector (C4 on 3x3 kernels, regular
    channels; D4 on standard⊗standard)."""
    kernel = grid_representation(C4, rot90_image, 3)
    rin = tensor(copies(C4.rep("regular"), 2), kernel)
    rout = copies(C4.rep("regular"), 1)
    projs = [solve_equivariant(rin, rout, method=m).projector()
             for m in ("orbit", "reynolds", "dense")]
    for p in projs:
        _assert_projector(p)
        assert float((p - projs[0]).abs().max()) <= 1e-12
    assert solve_equivariant(rin, rout).method == "orbit"
    s = D4.rep("standard")
    for m in ("orbit", "reynolds", "dense"):
        b = solve_equivariant(s * s, s * s, method=m)
        assert b.dim == character_dimension(s * s, s * s)
        _assert_projector(b.projector())


def test_reynolds_is_the_group_average_and_projection():
    g = CyclicGroup(8)  # the standard representation of C8 is not a signed permutation
    rin, rout = g.rep("standard"), g.rep("regular")
    basis = solve_equivariant(rin, rout)
    assert basis.method == "reynolds"
    a = torch.randn(5, rout.dim, rin.dim, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    avg = reynolds(rin, rout, a)
    assert float((basis.project(a) - avg).abs().max()) <= 1e-12
    assert float((reynolds(rin, rout, avg) - avg).abs().max()) <= 1e-12
    _assert_projector(basis.projector())


def test_conv_32_channels_c4_regular_basis():
    """The 3×3, 32→32 regular-channel convolution under C4 (the fast path)."""
    kernel = grid_representation(C4, rot90_image, 3)
    rin = tensor(copies(C4.rep("regular"), 8), kernel)
    rout = copies(C4.rep("regular"), 8)
    basis = solve_equivariant(rin, rout)
    assert basis.method == "orbit" and basis.dim == 32 * 32 * 9 // 4
    assert basis.dim == character_dimension(rin, rout)
    a = torch.randn(3, basis.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pa = basis.project(a)
    assert float((basis.project(pa) - pa).abs().max()) <= 1e-12
    # the projection is orthogonal: the residual is orthogonal to the projected maps
    assert float(((a - pa) * pa).sum(1).abs().max()) <= 1e-10


def test_d4_kernel_representation_is_a_representation():
    kernel = grid_representation(D4, dihedral_image, 3)
    elems = D4.elements()
    table = D4.cayley_table()
    mats = kernel(elems)
    for i in range(8):
        for j in range(8):
            assert torch.equal(mats[i] @ mats[j], mats[table[i, j]])
    basis = solve_equivariant(tensor(identity_representation(D4, 1), kernel),
                              identity_representation(D4, 1))
    assert basis.dim == 3  # centre, edges, corners


LIE_CASES = [
    (SO2(4), lambda g: (g.rep("freq1") * g.rep("freq1"), g.rep("freq2")), 2),
    (SO2(4), lambda g: (g.rep("freq1") * g.rep("freq2"), g.rep("freq1") + g.rep("freq3")), 4),
    (SO2(4), lambda g: (g.rep("freq1") * g.rep("freq1"), g.rep("trivial")), 2),
    (SO3(), lambda g: (g.rep() * g.rep(), g.rep()), 1),
    (SO3(), lambda g: (g.rep() * g.rep(), g.rep() * g.rep()), 3),
    (SO3(), lambda g: (g.rep() * g.rep() * g.rep(), g.rep("trivial")), 1),
    (O3(), lambda g: (g.rep() * g.rep(), g.rep()), 0),
    (O3(), lambda g: (g.rep() * g.rep(), g.rep("pseudovector")), 1),
    (product(C4, SO2(2)), lambda g: (g.rep("regular@0") * g.rep("freq1@1"),
                                     g.rep("standard@1")), 2),
]


@pytest.mark.parametrize(("group", "reps", "dim"), LIE_CASES)
def test_lie_group_bases_against_sampled_elements(group, reps, dim):
    rin, rout = reps(group)
    basis = solve_equivariant(rin, rout)
    assert basis.method == "nullspace" and basis.dim == dim
    _assert_projector(basis.projector())
    g = group.sample(16, generator=torch.Generator().manual_seed(3))
    assert _equivariance_residual(basis, rin, rout, g) <= 1e-10
    # a generic map is not equivariant, so the check above can fail
    d = rin.dim * rout.dim
    rand = torch.randn(d, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    fake = type(basis)(rin, rout, "x", 1, 0.0, _basis=rand / rand.norm())
    assert _equivariance_residual(fake, rin, rout, g) > 1e-3


def test_signed_orbits_drop_inconsistent_orbits():
    # one generator acting on 3 points: 0 -> 1 (sign -1), 1 -> 0 (sign -1), 2 -> 2 (sign -1)
    perm = torch.tensor([[1, 0, 2]])
    sign = torch.tensor([[-1.0, -1.0, -1.0]], dtype=torch.float64)
    labels, t = signed_orbits(perm, sign)
    assert labels.tolist() == [0, 0, -1]  # v2 = −v2 forces 0
    assert t[0] * t[1] == -1  # v1 = −v0
    assert orbit_labels(5, torch.tensor([[1, 2, 0, 4, 3]])).tolist() == [0, 0, 0, 3, 3]


def test_cache_is_explicit_and_keyed_by_generators():
    cache = BasisCache()
    a = solve_equivariant(C4.rep("regular"), C4.rep("regular"), cache=cache)
    b = solve_equivariant(C4.rep("regular"), C4.rep("regular"), cache=cache)
    assert a is b and cache.hits == 1 and len(cache) == 1
    c = solve_equivariant(C4.rep("standard"), C4.rep("regular"), cache=cache)
    assert c is not a and len(cache) == 2
    other = solve_equivariant(C4.rep("regular"), C4.rep("regular"))
    assert other is not a  # no hidden global cache


def test_solver_rejects_bad_input():
    with pytest.raises(SubspaceError, match="different group objects"):
        solve_equivariant(C4.rep("regular"), CyclicGroup(4).rep("regular"))
    bad = Representation(C4, 2, "nan", lambda g: torch.full((len(g), 2, 2), float("nan"),
                                                            dtype=torch.float64),
                         lambda: torch.zeros(0, 2, 2, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="NaN or infinite"):
        solve_equivariant(bad, C4.rep("standard"))
    skewed = Representation(C4, 2, "skewed", lambda g: torch.tensor(
        [[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64).expand(len(g), 2, 2),
        lambda: torch.zeros(0, 2, 2, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="not orthogonal"):
        solve_equivariant(skewed, C4.rep("standard"))
    wrong = Representation(C4, 3, "liar", lambda g: C4.representation(g, "standard"),
                           lambda: torch.zeros(0, 3, 3, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="declare dimensions"):
        solve_equivariant(wrong, C4.rep("standard"))
    with pytest.raises(SubspaceError, match="unknown method"):
        solve_equivariant(C4.rep(), C4.rep(), method="magic")
    c8 = CyclicGroup(8)
    with pytest.raises(SubspaceError, match="signed permutations"):
        solve_equivariant(c8.rep(), c8.rep(), method="orbit")
    so3 = SO3()
    with pytest.raises(SubspaceError, match="finite group"):
        solve_equivariant(so3.rep(), so3.rep(), method="reynolds")
    with pytest.raises(SubspaceError, match="expected"):
        solve_equivariant(C4.rep(), C4.rep()).project(torch.zeros(3, 5))


def test_self_check_catches_a_wrong_basis(monkeypatch):
    """A solver that returns a non-equivariant basis is caught before it is returned."""
    import quotient.dynamics.solver as solver

    def broken(c, rtol=1e-9):
        gen = torch.Generator().manual_seed(0)
        q = torch.linalg.qr(torch.randn(c.shape[1], 2, dtype=torch.float64, generator=gen))[0]
        return q, torch.ones(1)

    monkeypatch.setattr(solver, "null_space", broken)
    so3 = SO3()
    with pytest.raises(SelfCheckError):
        solve_equivariant(so3.rep(), so3.rep())


def _rescaled(rep: Representation, scale: float) -> Representation:
    """The same representation with its Lie-algebra basis multiplied by ``scale`` (still a
    basis of the same algebra, so the same equivariant maps)."""
    return Representation(rep.group, rep.dim, f"{rep.name}·{scale:g}", rep._matrices,
                          lambda: scale * rep.lie_generators())


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e6])
def test_a_rescaled_lie_algebra_basis_gives_the_same_subspace(scale):
    """The rank tolerance is relative to the largest singular value of the constraints: a
    basis of the Lie algebra scaled by 1e-12 (all constraints below an absolute 1e-9) or by
    1e6 still gives the one SO(3)-equivariant bilinear map ℝ³ ⊗ ℝ³ → ℝ³ (the cross
    product), not every map."""
    so3 = SO3()
    plain = solve_equivariant(so3.rep() * so3.rep(), so3.rep())
    s = _rescaled(so3.rep(), scale)
    basis = solve_equivariant(s * s, s)
    assert basis.method == "nullspace" and basis.dim == plain.dim == 1
    assert float((basis.projector() - plain.projector()).abs().max()) <= 1e-10


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e6])
def test_svd_ranks_are_relative_to_the_largest_singular_value(scale):
    from quotient.dynamics._linalg import null_space, orthonormalize

    gen = torch.Generator().manual_seed(5)
    m = torch.randn(6, 2, dtype=torch.float64, generator=gen) @ torch.randn(
        2, 4, dtype=torch.float64, generator=gen)  # rank 2
    q = orthonormalize(scale * m)
    assert q.shape == (6, 2)
    assert float((q.T @ q - torch.eye(2, dtype=torch.float64)).abs().max()) <= 1e-12
    assert float((q @ q.T @ m - m).abs().max()) <= 1e-10 * float(m.abs().max())
    kernel, s = null_space(scale * m.T)  # (4, 6): a 4-dimensional null space in ℝ⁶
    assert kernel.shape == (6, 4) and s.shape == (6,)
    assert float((m.T @ kernel).abs().max()) <= 1e-10 * float(m.abs().max())
    assert orthonormalize(torch.zeros(3, 2)).shape == (3, 0)
    assert null_space(torch.zeros(2, 3))[0].shape == (3, 3)


# --- refusals word for word, edge cases of the kernels, chunked group sums -----------------


def _custom(group, dim, name, mats, lie):
    return Representation(group, dim, name, mats, lie)


def test_every_refusal_of_bad_representations_names_the_side_and_the_fix():
    so3, c4 = SO3(), C4
    nan_lie = _custom(so3, 3, "nanlie", lambda g: g, lambda: torch.full((3, 3, 3), float("nan")))
    two_gens = _custom(so3, 3, "two", lambda g: g, lambda: so3.lie_algebra()[:2])
    leaky = so3.lie_algebra().clone()
    leaky[0, 0, 0] = 1e-6  # antisymmetric only up to 1e-6
    not_anti = _custom(so3, 3, "leaky", lambda g: g, lambda: leaky)
    skewed = _custom(c4, 2, "skewed", lambda g: torch.tensor(
        [[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64).expand(len(g), 2, 2),
        lambda: torch.zeros(0, 2, 2, dtype=torch.float64))
    nan_mats = _custom(c4, 2, "nan", lambda g: torch.full((len(g), 2, 2), float("nan"),
                                                          dtype=torch.float64),
                       lambda: torch.zeros(0, 2, 2, dtype=torch.float64))
    liar = _custom(c4, 3, "liar", lambda g: c4.representation(g, "standard"),
                   lambda: torch.zeros(0, 3, 3, dtype=torch.float64))
    finite = "contains NaN or infinite values; pass a finite matrix"
    cases = [
        (nan_mats, c4.rep(), f"rep_in generators {finite}"),
        (c4.rep(), nan_mats, f"rep_out generators {finite}"),
        (nan_lie, so3.rep(), f"rep_in Lie generators {finite}"),
        (so3.rep(), nan_lie, f"rep_out Lie generators {finite}"),
        (liar, c4.rep(), "representation matrices have sizes 2, 2 but the representations "
                         "declare dimensions 3, 2"),
        (c4.rep(), liar, "representation matrices have sizes 2, 2 but the representations "
                         "declare dimensions 2, 3"),
        (so3.rep() * so3.rep(), two_gens, "rep_in has 3 Lie generators and rep_out 2; they "
                                          "must come from the same Lie algebra basis"),
        (skewed, c4.rep(), "rep_in (skewed) is not orthogonal on the group's generators; Π_G = "
                           "QQᵀ is the group average only for orthogonal representations — "
                           "change basis to make it orthogonal"),
        (c4.rep(), skewed, "rep_out (skewed) is not orthogonal on the group's generators; Π_G = "
                           "QQᵀ is the group average only for orthogonal representations — "
                           "change basis to make it orthogonal"),
        (not_anti, so3.rep(), "rep_in has Lie generators that are not antisymmetric (the "
                              "representation is not orthogonal); change basis first"),
        (so3.rep(), not_anti, "rep_out has Lie generators that are not antisymmetric (the "
                              "representation is not orthogonal); change basis first"),
    ]
    for rep_in, rep_out, message in cases:
        with pytest.raises(SubspaceError) as info:
            solve_equivariant(rep_in, rep_out)
        assert str(info.value) == message


def test_group_sums_in_many_chunks_agree(monkeypatch):
    """The character formula and the Reynolds average walk the group in chunks of elements;
    tiny chunks give the same numbers as one chunk."""
    import quotient.dynamics.solver as solver

    d4 = DihedralGroup(4)
    rin, rout = d4.rep("regular"), d4.rep("standard")
    a = torch.randn(3, rout.dim, rin.dim, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(2))
    whole = (character_dimension(rin, rin), character_dimension(rin, rout), reynolds(rin, rout, a))
    monkeypatch.setattr(solver, "CHUNK", 50)  # a few elements per chunk
    assert character_dimension(rin, rin) == whole[0] == 8
    assert character_dimension(rin, rout) == whole[1] == 2
    assert torch.allclose(reynolds(rin, rout, a), whole[2], atol=1e-14)


def test_the_lie_residual_is_relative_to_the_generators():
    from quotient.dynamics.solver import _residual

    li = lo = SO3().lie_algebra()
    e00 = torch.zeros(9, 1, dtype=torch.float64)
    e00[0] = 1.0  # A = E_00: L A − A L has entries ±1
    empty = torch.zeros(0, 3, 3, dtype=torch.float64)
    assert _residual(e00, empty, empty, li, lo) == pytest.approx(1 / 3)  # 1 / (1 + 1 + 1)
    assert _residual(e00, empty, empty, 10 * li, 10 * lo) == pytest.approx(10 / 21)


def test_a_non_orthonormal_basis_is_caught(monkeypatch):
    import quotient.dynamics.solver as solver

    true = solver.null_space

    def doubled(c, rtol=1e-9):
        q, s = true(c, rtol)
        return 2 * q, s

    monkeypatch.setattr(solver, "null_space", doubled)
    so3 = SO3()
    with pytest.raises(SelfCheckError) as info:
        solve_equivariant(so3.rep(), so3.rep())
    assert str(info.value) == "basis is not orthonormal: max |QᵀQ − I| = 3.00e+00"


def test_svd_kernels_on_edge_cases():
    from quotient.dynamics._linalg import null_space, orthonormalize

    f64 = torch.float64
    q, s = null_space(torch.zeros(2, 3))  # everything is in the null space
    assert q.dtype == f64 and torch.equal(q, torch.eye(3, dtype=f64)) and s.shape == (0,)
    q, s = null_space(torch.zeros(0, 3))
    assert torch.equal(q, torch.eye(3, dtype=f64))
    ones = torch.ones(1, 3)  # one non-zero row: a 2-dimensional null space
    q, s = null_space(ones)
    assert q.shape == (3, 2) and q.dtype == f64 and s.dtype == f64
    assert float((ones.double() @ q).abs().max()) <= 1e-15
    rank1 = torch.outer(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0, 0.5])).double()
    assert null_space(rank1)[0].shape == (3, 2)
    assert orthonormalize(rank1).shape == (3, 1)
    assert orthonormalize(torch.zeros(3, 0)).shape == (3, 0)
    assert orthonormalize(torch.zeros(3, 2)).shape == (3, 0)
    column = torch.tensor([[3.0], [4.0], [0.0]])
    q = orthonormalize(column)
    assert q.shape == (3, 1) and q.dtype == f64
    assert torch.allclose(q.abs(), torch.tensor([[0.6], [0.8], [0.0]], dtype=f64))
    frame = torch.eye(4, dtype=f64)[:, :2]  # already orthonormal: largest singular value 1
    assert orthonormalize(frame).shape == (4, 2)


def test_routes_are_chosen_as_documented_and_named():
    """auto: the generators' null space for finite groups too large to average over (S9);
    a representation without Lie generators on one side only is not Lie-free; method names
    are reported as asked; orbit is refused for Lie groups."""
    so3, s9 = SO3(), SymmetricGroup(9)
    big = solve_equivariant(s9.rep("standard"), s9.rep("standard"))
    assert big.method == "nullspace" and big.dim == 1
    one_sided = solve_equivariant(so3.rep("trivial"), so3.rep())
    assert one_sided.method == "nullspace" and one_sided.dim == 0
    assert solve_equivariant(so3.rep(), so3.rep("trivial")).dim == 0
    c8 = CyclicGroup(8)
    assert solve_equivariant(c8.rep(), c8.rep("regular"), method="dense").method == "dense"
    assert solve_equivariant(c8.rep(), c8.rep("regular"), method="nullspace").method == \
        "nullspace"
    for method, message in (("orbit", "method='orbit' does not apply to Lie groups"),
                            ("reynolds", "method='reynolds' needs a finite group")):
        with pytest.raises(SubspaceError) as info:
            solve_equivariant(so3.rep(), so3.rep(), method=method)
        assert str(info.value) == message
    with pytest.raises(SubspaceError) as info:
        solve_equivariant(c8.rep(), c8.rep(), method="orbit")
    assert str(info.value) == "method='orbit' needs generators that act by signed permutations"


def test_the_solver_is_deterministic_and_honours_rtol():
    c8, so3 = CyclicGroup(8), SO3()
    first = solve_equivariant(c8.rep(), c8.rep("regular")).basis
    assert torch.equal(first, solve_equivariant(c8.rep(), c8.rep("regular")).basis)
    none = solve_equivariant(c8.rep(), c8.rep("trivial"), method="reynolds")
    assert none.dim == 0 and none.basis.shape == (2, 0) and not none.projector().any()
    with pytest.raises(SelfCheckError) as info:  # rtol 0.9 drops a direction of the average
        solve_equivariant(c8.rep(), c8.rep("regular"), rtol=0.9)
    assert str(info.value) == ("Reynolds probes gave rank 1 but the character formula says 2; "
                               "try another rtol")
    with pytest.raises(SelfCheckError, match="^nullspace basis violates the constraints: "):
        solve_equivariant(so3.rep(), so3.rep(), rtol=2.0)  # every map counted as a solution


def test_character_formula_and_reynolds_refusals():
    c4 = CyclicGroup(4)
    fake = Representation(CyclicGroup(2), 1, "half", lambda g: (1 - g.double())[:, None, None],
                          lambda: torch.zeros(0, 1, 1, dtype=torch.float64))  # ρ(s) = 0
    cases = [
        (lambda: character_dimension(c4.rep(), CyclicGroup(4).rep()),
         "the character formula needs two representations of one finite group"),
        (lambda: character_dimension(SO3().rep(), SO3().rep()),
         "the character formula needs two representations of one finite group"),
        (lambda: character_dimension(fake, fake.group.rep("trivial")),
         "character average 0.5 is not an integer: these matrices do not form representations "
         "of the group"),
        (lambda: reynolds(SO3().rep(), SO3().rep(), torch.zeros(1, 3, 3)),
         "the Reynolds average needs a finite group; use solve_equivariant"),
        (lambda: reynolds(c4.rep(), c4.rep("regular"), torch.zeros(3, 5)),
         "maps have shape (3, 5), expected (4, 2) = (d_out, d_in)"),
        (lambda: reynolds(c4.rep(), c4.rep("regular"), torch.zeros(7, 3, 5)),
         "maps have shape (3, 5), expected (4, 2) = (d_out, d_in)"),
        (lambda: reynolds(c4.rep(), c4.rep(), torch.full((2, 2), float("nan"))),
         "the map to project contains NaN or infinite values; pass a finite matrix"),
    ]
    s5 = SymmetricGroup(5)
    from quotient.dynamics.solver import constraint_matrices

    cases.append((lambda: constraint_matrices(s5.rep("regular"), s5.rep("regular")),
                  "D = 14400 is too large for dense constraint matrices (max 12000); use "
                  "method='orbit' or 'reynolds'"))
    for run, message in cases:
        with pytest.raises(SubspaceError) as info:
            run()
        assert str(info.value) == message


def test_reynolds_keeps_the_dtype_and_walks_every_element(monkeypatch):
    import quotient.dynamics.solver as solver

    d4 = DihedralGroup(4)
    rin, rout = d4.rep("standard"), d4.rep("regular")
    a = torch.randn(20, rout.dim, rin.dim, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(3))
    whole = reynolds(rin, rout, a)
    low = reynolds(rin, rout, a.float())
    assert low.dtype == torch.float32 and torch.allclose(low.double(), whole, atol=1e-6)
    monkeypatch.setattr(solver, "CHUNK", 500)  # 7 elements per chunk, one at a time inside
    assert torch.allclose(reynolds(rin, rout, a), whole, atol=1e-14)


def test_groups_are_averaged_up_to_max_enumerated_elements():
    from quotient.dynamics.solver import MAX_ENUMERATED

    at = CyclicGroup(MAX_ENUMERATED)
    beyond = CyclicGroup(MAX_ENUMERATED + 1)
    assert solve_equivariant(at.rep(), at.rep()).method == "reynolds"
    assert solve_equivariant(beyond.rep(), beyond.rep()).method == "nullspace"


def test_lie_generators_that_vanish_count_as_no_lie_algebra():
    """O(3) on its determinant: the Lie algebra acts by zero, so the discrete generator (−I)
    decides, by orbits; with no generator at all (SO(3) acting trivially) every map is
    equivariant."""
    o3, so3 = O3(), SO3()
    sign = solve_equivariant(o3.rep("trivial"), o3.rep("det"))
    assert (sign.method, sign.dim) == ("orbit", 0)
    same = solve_equivariant(o3.rep("det"), o3.rep("det"))
    assert (same.method, same.dim) == ("orbit", 1)
    free = solve_equivariant(so3.rep("trivial"), so3.rep("trivial"), method="nullspace")
    assert free.dim == 1 and free.basis.dtype == torch.float64
    assert torch.equal(free.basis, torch.eye(1, dtype=torch.float64))


def test_a_basis_of_the_wrong_dimension_is_caught(monkeypatch):
    """For finite groups the dimension is checked against the character formula: a null space
    that lost a direction (still orthonormal and equivariant) is refused."""
    import quotient.dynamics.solver as solver

    true = solver.null_space

    def short(c, rtol=1e-9):
        q, s = true(c, rtol)
        return q[:, 1:], s

    monkeypatch.setattr(solver, "null_space", short)
    with pytest.raises(SelfCheckError) as info:
        solve_equivariant(C4.rep("regular"), C4.rep("regular"), method="dense")
    assert str(info.value) == ("dense basis has dimension 3 but the character formula gives 4")


def test_representation_matrices_must_be_square_of_the_declared_size():
    """Non-square matrices are refused by name and shape, whichever side and orientation."""
    c4, f64 = C4, torch.float64

    def flat(rows, cols):
        return _custom(c4, 2, f"{rows}x{cols}", lambda g: torch.zeros(len(g), rows, cols,
                                                                      dtype=f64),
                       lambda: torch.zeros(0, 2, 2, dtype=f64))

    tail = "but the representations declare dimensions 2, 2"
    cases = [(flat(2, 3), c4.rep(), f"representation matrices have sizes 2×3, 2 {tail}"),
             (flat(3, 2), c4.rep(), f"representation matrices have sizes 3×2, 2 {tail}"),
             (c4.rep(), flat(2, 3), f"representation matrices have sizes 2, 2×3 {tail}"),
             (c4.rep(), flat(3, 2), f"representation matrices have sizes 2, 3×2 {tail}")]
    for rep_in, rep_out, message in cases:
        with pytest.raises(SubspaceError) as info:
            solve_equivariant(rep_in, rep_out)
        assert str(info.value) == message


def test_element_chunks_are_as_large_as_the_chunk_budget_allows(monkeypatch):
    """Group sums walk every element once, in chunks of as many elements as fit in CHUNK
    matrix entries (ρ_out, and ρ_in counted twice when ρ_in(g⁻¹) is asked for), at least one."""
    import quotient.dynamics.solver as solver

    s3 = SymmetricGroup(3)
    rin, rout = s3.rep("permutation"), s3.rep("regular")  # d_in = 3, d_out = 6, |G| = 6
    allg = s3.elements()
    for budget in range(1, 400, 7):
        monkeypatch.setattr(solver, "CHUNK", budget)
        for inverse in (False, True):
            step = max(1, budget // (3 ** 2 * (2 if inverse else 1) + 6 ** 2))
            chunks = list(solver._element_chunks(rin, rout, inverse=True) if inverse else
                          solver._element_chunks(rin, rout))  # the default: no inverse
            assert [mi.shape[0] for mi, _ in chunks] == \
                [min(step, 6 - s) for s in range(0, 6, step)]
            mi = torch.cat([c[0] for c in chunks])
            mo = torch.cat([c[1] for c in chunks])
            assert mi.dtype == mo.dtype == torch.float64
            assert torch.equal(mo, rout(allg))
            assert torch.equal(mi, rin(s3.inverse(allg)) if inverse else rin(allg))


def test_float32_representation_matrices_are_averaged_in_float64():
    c4 = C4
    low = _custom(c4, 2, "standard32", lambda g: c4.representation(g, "standard").float(),
                  lambda: torch.zeros(0, 2, 2))
    a = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    exact = reynolds(c4.rep(), c4.rep("regular"), a)
    assert torch.allclose(reynolds(low, c4.rep("regular"), a), exact, rtol=0, atol=1e-15)
    b = a.transpose(1, 2).contiguous()
    exact = reynolds(c4.rep("regular"), c4.rep(), b)
    assert torch.allclose(reynolds(c4.rep("regular"), low, b), exact, rtol=0, atol=1e-15)


def test_the_character_cross_check_runs_when_the_matrices_fit_in_five_chunks(monkeypatch):
    """The dimension of a finite group's basis is checked against the character formula
    exactly when |G|·(d_in² + d_out²) ≤ 5·CHUNK."""
    import quotient.dynamics.solver as solver

    s3 = SymmetricGroup(3)
    rin, rout = s3.rep("permutation"), s3.rep("regular")  # 6 · (9 + 36) = 270 entries
    calls = []
    true = solver.character_dimension

    def spy(a, b):
        calls.append((a, b))
        return true(a, b)

    monkeypatch.setattr(solver, "character_dimension", spy)
    for budget, runs in ((54, True), (53, False), (50, False)):
        calls.clear()
        monkeypatch.setattr(solver, "CHUNK", budget)
        basis = solve_equivariant(rin, rout, method="orbit")
        assert basis.dim == 3 and bool(calls) == runs


def test_exact_bases_pass_the_self_check_at_zero_tolerance():
    """Orbit bases are exact (residual 0) and, with no constraint at all, the identity basis is
    exactly orthonormal: both pass check_tol = 0."""
    s3 = SymmetricGroup(3)
    orbit = solve_equivariant(s3.rep("permutation"), s3.rep("regular"), check_tol=0.0)
    assert (orbit.method, orbit.dim, orbit.residual) == ("orbit", 3, 0.0)
    so3 = SO3()
    free = solve_equivariant(so3.rep("trivial"), so3.rep("trivial"), method="nullspace",
                             check_tol=0.0)
    assert free.residual == 0.0 and torch.equal(free.basis, torch.eye(1, dtype=torch.float64))


def test_unchecked_bases_carry_no_measured_residual():
    """check=False skips the self-check: the same basis, with the unmeasured residual 0.0."""
    c8 = CyclicGroup(8)
    for method in ("reynolds", "dense"):
        unchecked = solve_equivariant(c8.rep(), c8.rep("regular"), method=method, check=False)
        checked = solve_equivariant(c8.rep(), c8.rep("regular"), method=method)
        assert unchecked.residual == 0.0 and 0.0 <= checked.residual <= 1e-9
        assert torch.equal(unchecked.basis, checked.basis)


def test_dense_constraints_up_to_max_dense_and_only_where_there_are_some(monkeypatch):
    import quotient.dynamics.solver as solver
    from quotient.dynamics.solver import constraint_matrices

    monkeypatch.setattr(solver, "MAX_DENSE", 4)
    quarter = constraint_matrices(C4.rep(), C4.rep())  # D = 4 = MAX_DENSE: still built
    assert quarter.shape == (1, 4, 4) and quarter.dtype == torch.float64
    r = C4.rep()(C4.generators())[0]
    expected = torch.kron(r, r) - torch.eye(4, dtype=torch.float64)  # vec(R A Rᵀ) − vec(A)
    assert torch.allclose(quarter[0], expected, rtol=0, atol=1e-15)
    with pytest.raises(SubspaceError, match=r"^D = 8 is too large .*\(max 4\)"):
        constraint_matrices(C4.rep(), C4.rep("regular"))
    # Lie generators that vanish add no constraint: O(3) on det has only its generator −I
    o3 = O3()
    det = constraint_matrices(o3.rep("det"), o3.rep("det"))
    assert det.shape == (1, 1, 1) and float(det[0, 0, 0]) == 0.0
    # no constraint at all (SO(3) acting trivially): the whole space, without building a D × D
    # matrix, so also beyond MAX_DENSE
    monkeypatch.setattr(solver, "MAX_DENSE", 0)
    so3 = SO3()
    free = solve_equivariant(so3.rep("trivial"), so3.rep("trivial"), method="nullspace")
    assert torch.equal(free.basis, torch.eye(1, dtype=torch.float64))


def test_an_empty_matrix_has_an_empty_orthonormal_basis():
    from quotient.dynamics._linalg import orthonormalize

    q = orthonormalize(torch.zeros(0, 3))
    assert q.shape == (0, 0) and q.dtype == torch.float64


def test_exactly_zero_singular_values_are_dropped_at_rtol_zero():
    """rtol = 0 keeps every non-zero singular value and only those: an exact zero counts as
    rank-deficient in both kernels."""
    from quotient.dynamics._linalg import null_space, orthonormalize

    m = torch.tensor([[2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    q, _ = null_space(m, rtol=0.0)
    assert q.shape == (2, 1) and torch.allclose(q.abs(), torch.tensor([[0.0], [1.0]],
                                                                      dtype=torch.float64))
    q = orthonormalize(m, rtol=0.0)
    assert q.shape == (2, 1) and torch.allclose(q.abs(), torch.tensor([[1.0], [0.0]],
                                                                      dtype=torch.float64))
