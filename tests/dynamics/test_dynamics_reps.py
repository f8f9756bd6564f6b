"""The representation API: constructors from matrices and generators, the textbook standard
representation of S_n, the permutation representations of C_n and D_n, grids and reversal."""

from __future__ import annotations

import math

import pytest
import torch

from quotient.dynamics import (
    character_dimension,
    permutation_representation,
    representation_from_generators,
    representation_from_matrices,
    reverse_signal,
    solve_equivariant,
    spatial_representation,
    standard_representation,
    trivial_representation,
)
from quotient.groups import CyclicGroup, DihedralGroup, SymmetricGroup

TOL = 1e-12


def _characters(rep, group):
    return rep(group.elements()).diagonal(dim1=1, dim2=2).sum(1)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_standard_representation_of_sn_is_the_irreducible_n_minus_1(n):
    group = SymmetricGroup(n)
    std = standard_representation(group)
    mats = std(group.elements())
    assert std.dim == n - 1 and mats.shape == (group.order, n - 1, n - 1)
    eye = torch.eye(n - 1, dtype=torch.float64)
    assert float((mats @ mats.transpose(1, 2) - eye).abs().max()) <= TOL  # orthogonal
    chi = _characters(std, group)
    assert float((chi ** 2).mean()) == pytest.approx(1.0, abs=TOL)  # irreducible
    # the n×n permutation representation is trivial ⊕ standard: χ_P = 1 + χ_std
    perm = permutation_representation(group)
    assert torch.allclose(_characters(perm, group), 1 + chi, atol=TOL)
    assert perm.dim == n and group.rep("standard").dim == n - 1  # the textbook names
    a, b = group.sample(6, generator=torch.Generator().manual_seed(n)), group.elements()[:6]
    assert torch.allclose(std(group.compose(a, b)), std(a) @ std(b), atol=TOL)
    # Hom_Sn(standard, permutation) is one-dimensional (the inclusion of the sum-zero vectors)
    assert solve_equivariant(std, perm).dim == 1 == character_dimension(std, perm)


@pytest.mark.parametrize("group", [CyclicGroup(5), DihedralGroup(4), DihedralGroup(5)],
                         ids=lambda g: g.name)
def test_permutation_of_polygon_vertices_moves_them_like_the_standard_representation(group):
    n = group.n
    angles = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    vertices = torch.stack([torch.cos(angles), torch.sin(angles)])  # (2, n), column j = vertex j
    g = group.elements()
    perm = permutation_representation(group)(g)
    assert perm.shape == (group.order, n, n)
    assert bool(((perm == 0) | (perm == 1)).all()) and bool((perm.sum(1) == 1).all())
    # ρ_std(g) v_j = v_σ(j) and P e_j = e_σ(j)
    assert torch.allclose(group.rep("standard")(g) @ vertices, vertices @ perm, atol=TOL)
    a = group.sample(8, generator=torch.Generator().manual_seed(1))
    b = group.sample(8, generator=torch.Generator().manual_seed(2))
    rep = permutation_representation(group)
    assert torch.allclose(rep(group.compose(a, b)), rep(a) @ rep(b), atol=TOL)


def test_from_generators_rebuilds_named_representations():
    for group in (CyclicGroup(4), DihedralGroup(3), SymmetricGroup(4)):
        for kind in ("standard", "regular"):
            named = group.rep(kind)
            built = representation_from_generators(group, named.discrete_generators(),
                                                   name=f"my-{kind}")
            assert torch.allclose(built(group.elements()), named(group.elements()), atol=TOL)
            assert built.name == f"my-{kind}"
    c4 = CyclicGroup(4)
    swap = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])  # r ↦ swap: r⁴ = e holds, a valid rep
    assert representation_from_generators(c4, swap).dim == 2


def test_from_generators_refuses_matrices_that_break_a_relation():
    c4 = CyclicGroup(4)
    t = 2 * math.pi / 3  # rotation by 120°: r⁴ ≠ e
    rot = torch.tensor([[[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]])
    with pytest.raises(ValueError, match="not a representation of C4"):
        representation_from_generators(c4, rot)
    with pytest.raises(ValueError, match="has 1 generators"):
        representation_from_generators(c4, torch.eye(2).expand(2, 2, 2))


def test_from_matrices_checks_the_homomorphism_and_the_element_order():
    d4 = DihedralGroup(4)
    mats = d4.rep("standard")(d4.elements())
    rep = representation_from_matrices(d4, mats, "mine")
    g = d4.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rep(g), d4.rep("standard")(g))
    with pytest.raises(ValueError, match="identity"):
        representation_from_matrices(d4, mats.flip(0))
    swapped = mats.clone()
    swapped[[1, 2]] = swapped[[2, 1]]
    with pytest.raises(ValueError, match="not a representation"):
        representation_from_matrices(d4, swapped)
    with pytest.raises(ValueError, match=r"\(8, d, d\)"):
        representation_from_matrices(d4, mats[:4])
    assert trivial_representation(d4, 3)(g).shape == (5, 3, 3)


def test_large_symmetric_groups_are_solved_from_their_generators():
    s10 = SymmetricGroup(10)  # 3 628 800 elements: no Reynolds average, no character check
    basis = solve_equivariant(standard_representation(s10), permutation_representation(s10))
    assert basis.method == "nullspace" and basis.dim == 1 and basis.residual <= 1e-12


def test_reverse_signal_and_its_grid_representation():
    c2 = CyclicGroup(2)
    x = torch.arange(10, dtype=torch.float64).reshape(2, 1, 5)
    out = reverse_signal(torch.tensor([0, 1]), x)
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1].flip(-1))
    rep = spatial_representation(c2, reverse_signal, (5,))
    assert torch.equal(rep(torch.tensor([1]))[0], torch.eye(5, dtype=torch.float64).flip(0))
