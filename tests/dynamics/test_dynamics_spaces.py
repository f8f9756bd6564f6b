"""Admissible spaces, E = L ∩ H_G, and the compatibility verdicts."""

from __future__ import annotations

import pytest
import torch

from quotient.actions import rot90_image
from quotient.dynamics import (
    CROSS,
    SKEW,
    BasisSpace,
    KernelBasisSpace,
    LayerGeometry,
    MaskSpace,
    SubspaceError,
    copies,
    function_space,
    grid_representation,
    identity_representation,
    non_orthonormal_kernel_basis,
    solve_equivariant,
    support_mask,
)
from quotient.groups import CyclicGroup, tensor

C4 = CyclicGroup(4)
KERNEL = grid_representation(C4, rot90_image, 3)


def _conv_basis(channels: str, c: int = 1):
    if channels == "trivial":
        ch = identity_representation(C4, c)
    else:
        ch = copies(C4.rep("regular"), c)
    return solve_equivariant(tensor(ch, KERNEL), ch), (ch.dim, ch.dim, 3, 3)


def _dense(p_l: torch.Tensor, p_g: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(p_l @ p_g - p_g @ p_l, ord=2))


def _projector(q: torch.Tensor) -> torch.Tensor:
    return q @ q.T


@pytest.mark.parametrize("channels", ["trivial", "regular"])
def test_cross_compatible_skew_incompatible(channels):
    eq, shape = _conv_basis(channels)
    p_g = eq.projector()
    cross = LayerGeometry(MaskSpace(shape, support_mask(CROSS)), eq)
    skew = LayerGeometry(MaskSpace(shape, support_mask(SKEW)), eq)
    full = LayerGeometry(MaskSpace(shape), eq)
    rc, rs, rf = cross.compatibility(), skew.compatibility(), full.compatibility()
    assert rc.compatible and rc.commutator <= 1e-12 and rc.invariant
    assert rf.compatible and rf.commutator <= 1e-12
    assert not rs.compatible and rs.commutator >= 1e-2 and not rs.invariant
    assert rs.commutator == pytest.approx(3 ** 0.5 / 4, abs=1e-12)  # the reference 0.433
    # the structured figures equal the dense definition
    for geo, rep in ((cross, rc), (skew, rs)):
        p_l = _projector(geo.space.orthonormal_basis())
        assert rep.commutator == pytest.approx(_dense(p_l, p_g), abs=1e-12)


def test_projections_and_E_under_compatibility():
    eq, shape = _conv_basis("regular")
    geo = LayerGeometry(MaskSpace(shape, support_mask(CROSS)), eq)
    p_l = _projector(geo.space.orthonormal_basis())
    p_g, p_e = eq.projector(), _projector(geo.basis_E)
    for p in (p_l, p_g, p_e):
        assert float((p @ p - p).abs().max()) <= 1e-12
        assert float((p - p.T).abs().max()) <= 1e-12
    assert float((p_e - p_l @ p_g).abs().max()) <= 1e-12  # Π_E = Π_L Π_G
    x = torch.randn(4, geo.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert float((geo.project_E(x) - x @ p_e).abs().max()) <= 1e-12


@pytest.mark.parametrize("support", [CROSS, SKEW])
def test_dense_route_agrees_with_structured(support):
    """A non-orthonormal kernel basis and a random dense basis of the same L give the same E."""
    eq, shape = _conv_basis("trivial", 2)
    mask_geo = LayerGeometry(MaskSpace(shape, support_mask(support)), eq)
    gen = torch.Generator().manual_seed(1)
    kb = KernelBasisSpace(shape, non_orthonormal_kernel_basis(support, generator=gen))
    assert not kb.orthonormal
    mix = torch.randn(kb.n_coef, kb.n_coef, dtype=torch.float64, generator=gen)
    dense = BasisSpace(shape, kb.orthonormal_basis() @ mix)
    p_e = _projector(mask_geo.basis_E)
    for space in (kb, dense):
        geo = LayerGeometry(space, eq)
        assert geo.dim_E == mask_geo.dim_E
        assert float((_projector(geo.basis_E) - p_e).abs().max()) <= 1e-10
        assert geo.commutator() == pytest.approx(mask_geo.commutator(), abs=1e-10)


def test_invariance_is_reported_separately_from_compatibility():
    """L = span(1, −1, 0, 0) in Hom(regular, trivial) under C4: orthogonal to H_G (compatible)
    but not moved into itself by the cyclic shift (not invariant)."""
    eq = solve_equivariant(C4.rep("regular"), identity_representation(C4, 1))
    v = torch.tensor([[1.0], [-1.0], [0.0], [0.0]], dtype=torch.float64)
    rep = LayerGeometry(BasisSpace((1, 4), v), eq).compatibility()
    assert rep.compatible and not rep.invariant and rep.invariance_defect > 0.5
    assert rep.dim_E == 0


def test_function_space_and_coefficients_round_trip():
    gen = torch.Generator().manual_seed(2)
    b = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    space = function_space((2, 3), lambda c: (b @ c).reshape(2, 3), 3, generator=gen)
    c = torch.randn(3, dtype=torch.float64, generator=gen)
    assert torch.allclose(space.coefficients(space.synthesize(c)), c, atol=1e-12)
    a = torch.randn(6, dtype=torch.float64, generator=gen)
    pa = space.project(a)
    assert torch.allclose(space.project(pa), pa, atol=1e-12)
    assert torch.allclose(space.synthesize(space.coefficients(a)), pa, atol=1e-12)


def test_bad_spaces_raise_clear_errors():
    eq, shape = _conv_basis("trivial")
    with pytest.raises(SubspaceError, match="does not match the weight shape"):
        MaskSpace(shape, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(SubspaceError, match="0/1"):
        MaskSpace(shape, torch.full((3, 3), 0.5))
    with pytest.raises(SubspaceError, match="empty"):
        MaskSpace(shape, torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(SubspaceError, match="outside"):
        support_mask([(0, 3)])
    nan_basis = torch.ones(9, 2, dtype=torch.float64)
    nan_basis[0, 0] = float("nan")
    with pytest.raises(SubspaceError, match="NaN or infinite"):
        BasisSpace(shape, nan_basis)
    with pytest.raises(SubspaceError, match="linearly dependent"):
        BasisSpace(shape, torch.ones(9, 2, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="does not fit"):
        BasisSpace(shape, torch.ones(8, 2, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="not linear"):
        function_space((3,), lambda c: c ** 2 + 1, 3)
    with pytest.raises(SubspaceError, match="match d_out"):
        LayerGeometry(MaskSpace((2, 1, 3, 3)), eq)
