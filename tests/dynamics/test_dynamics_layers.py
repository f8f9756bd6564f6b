"""Subspace-parametrised layers: projection to E, exact equivariance, export, errors."""

from __future__ import annotations

import pytest
import torch

from quotient.actions import dihedral_image, identity_action, rot90_image
from quotient.dynamics import (
    CROSS,
    SubspaceConv2d,
    SubspaceError,
    SubspaceLinear,
    channel_image_action,
    copies,
    distance_to_E,
    export,
    grid_representation,
    identity_representation,
    project_to_E,
    representation_action,
    subspace_layers,
    subspace_mlp,
)
from quotient.groups import CyclicGroup, DihedralGroup, SymmetricGroup
from quotient.testing import assert_equivariant, assert_invariant


@pytest.mark.parametrize(("group", "action"), [(CyclicGroup(4), rot90_image),
                                               (DihedralGroup(4), dihedral_image)])
def test_projected_conv_with_regular_channels_is_equivariant(group, action):
    gen = torch.Generator().manual_seed(0)
    kernel = grid_representation(group, action, 3)
    ch_in = copies(group.rep("regular"), 1)
    ch_out = copies(group.rep("regular"), 2)
    conv = SubspaceConv2d(ch_in, ch_out, kernel, support=CROSS, generator=gen)
    act_in, act_out = channel_image_action(ch_in, action), channel_image_action(ch_out, action)
    x = torch.randn(3, ch_in.dim, 7, 7, dtype=torch.float64, generator=gen)
    with pytest.raises(AssertionError):  # a generic filter in L is not equivariant
        assert_equivariant(conv, group, act_in, act_out, x, elements=group.elements())
    assert conv.distance_to_E() > 1e-3
    conv.project_to_E()
    assert conv.distance_to_E() <= 1e-14
    report = assert_equivariant(conv, group, act_in, act_out, x, elements=group.elements(),
                                tol=1e-12)
    assert report.error <= 1e-12


def test_projected_linear_with_bias_is_equivariant():
    s4 = SymmetricGroup(4)
    gen = torch.Generator().manual_seed(1)
    layer = SubspaceLinear(s4.rep("permutation"), s4.rep("permutation"), bias=True,
                           generator=gen)
    act = representation_action(s4.rep("permutation"))
    x = torch.randn(5, 4, dtype=torch.float64, generator=gen)
    layer.project_to_E()
    assert_equivariant(layer, s4, act, act, x, elements=s4.elements(), tol=1e-12)
    # Hom_S4(P ⊕ 1, P) has dimension 3: identity, all-ones, bias along ones
    assert layer.geometry.dim_E == 3


def test_cnn_in_E_is_invariant_and_export_matches(make_cnn_problem):
    objective = make_cnn_problem("cross", channel_rep="regular", channels=(1, 4, 4))
    model = objective.model
    assert distance_to_E(model) <= 1e-14
    x = objective.x[:4]
    assert_invariant(model, CyclicGroup(4), rot90_image, x, elements=torch.arange(4), tol=1e-12)
    plain = export(model)
    assert not subspace_layers(plain)
    with torch.no_grad():
        assert torch.allclose(plain(x), model(x), rtol=0, atol=1e-14)


def test_export_of_a_single_layer_and_mlp():
    s3 = SymmetricGroup(3)
    gen = torch.Generator().manual_seed(2)
    mlp = subspace_mlp([s3.rep("permutation"), s3.rep("permutation"), s3.rep("trivial")],
                       generator=gen)
    project_to_E(mlp)
    x = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    assert_equivariant(mlp, s3, representation_action(s3.rep("permutation")), identity_action,
                       x, elements=s3.elements(), tol=1e-12)
    lin = subspace_layers(mlp)[0]
    with torch.no_grad():
        assert torch.allclose(export(lin)(x), lin(x), atol=1e-15)


def test_non_orthonormal_basis_keeps_E_after_projection():
    c4 = CyclicGroup(4)
    gen = torch.Generator().manual_seed(3)
    kernel = grid_representation(c4, rot90_image, 3)
    one = identity_representation(c4, 2)
    basis = torch.eye(5, dtype=torch.float64) + torch.rand(5, 5, dtype=torch.float64,
                                                           generator=gen)
    units = torch.zeros(5, 3, 3, dtype=torch.float64)
    for i, (r, c) in enumerate(CROSS):
        units[i, r, c] = 1.0
    conv = SubspaceConv2d(one, one, kernel, kernel_basis=torch.einsum("ji,ihw->jhw", basis,
                                                                      units), generator=gen)
    assert not conv.space.orthonormal
    conv.project_to_E()
    assert conv.distance_to_E() <= 1e-13
    g = torch.randn(conv.coef.shape, dtype=torch.float64, generator=gen)
    step = conv.geometry.project_coef_E(g)
    moved = conv.space.synthesize(conv.coef.detach() - 0.1 * step)
    assert float(conv.geometry.distance_to_E(moved)) <= 1e-13


def test_layers_reject_bad_input():
    c4 = CyclicGroup(4)
    kernel = grid_representation(c4, rot90_image, 3)
    one = identity_representation(c4, 1)
    with pytest.raises(SubspaceError, match="does not match the weight shape"):
        SubspaceConv2d(one, one, kernel, support=torch.ones(2, 2, dtype=torch.bool))
    conv = SubspaceConv2d(one, one, kernel, support=CROSS)
    with pytest.raises(SubspaceError, match="expected images"):
        conv(torch.zeros(1, 2, 5, 5, dtype=torch.float64))
    lin = SubspaceLinear(c4.rep("regular"), one)
    with pytest.raises(SubspaceError, match="expected inputs"):
        lin(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(SubspaceError, match="odd square"):
        SubspaceConv2d(one, one, grid_representation(c4, rot90_image, 2))


def test_module_docstring_example_runs():
    import doctest

    import quotient.dynamics

    result = doctest.testmod(quotient.dynamics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
