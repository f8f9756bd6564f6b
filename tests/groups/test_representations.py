"""The representation algebra: sums, tensors, duals and the induced action on maps."""

import torch

from quotient.groups import (
    SO3,
    CyclicGroup,
    DihedralGroup,
    SymmetricGroup,
    act_on_maps,
    hom,
    product,
)

TOL = 1e-10


def test_hom_acts_on_vectorised_maps(gen):
    group = DihedralGroup(4)
    rin, rout = group.rep("regular"), group.rep("standard")
    g = group.sample(5, generator=gen)
    a = torch.randn(5, rout.dim, rin.dim, dtype=torch.float64, generator=gen)
    direct = act_on_maps(rin, rout, g, a)
    via_hom = (hom(rin, rout)(g) @ a.reshape(5, -1, 1)).reshape(5, rout.dim, rin.dim)
    assert torch.allclose(direct, via_hom, atol=TOL)


def test_algebra_is_homomorphic(gen):
    group = SymmetricGroup(4)
    rep = group.rep("permutation") + group.rep("trivial")
    rep = rep * group.rep("standard").dual()
    a, b = group.sample(6, generator=gen), group.sample(6, generator=gen)
    assert torch.allclose(rep(group.compose(a, b)), rep(a) @ rep(b), atol=TOL)
    assert rep.dim == 5 * 3


def test_lie_generators_of_tensor_representation_match_derivative():
    group = SO3()
    rep = group.rep("standard") ** 2
    gens = rep.lie_generators()
    base = group.lie_algebra()
    for x, dx in zip(base, gens, strict=True):
        t = 1e-6
        r = torch.linalg.matrix_exp(t * x)[None]
        deriv = (rep(r) - torch.eye(9, dtype=torch.float64)) / t
        assert torch.allclose(deriv[0], dx, atol=1e-5)


def test_equivariant_maps_are_fixed_by_the_induced_action(gen):
    """For the permutation representation, A = a I + b 11ᵀ commutes with every ρ(g)."""
    group = SymmetricGroup(5)
    rep = group.rep("permutation")
    a = 2.0 * torch.eye(5, dtype=torch.float64) + 0.5
    g = group.sample(7, generator=gen)
    moved = act_on_maps(rep, rep, g, a.expand(7, -1, -1))
    assert torch.allclose(moved, a.expand(7, -1, -1), atol=TOL)
    b = torch.randn(5, 5, dtype=torch.float64, generator=gen)
    assert not torch.allclose(act_on_maps(rep, rep, g, b.expand(7, -1, -1)), b.expand(7, -1, -1))


def test_product_representations_and_generators():
    group = product(CyclicGroup(4), SymmetricGroup(3))
    els = group.elements()
    reg = group.representation(els, "regular")
    assert reg.shape == (24, 24, 24)
    assert torch.allclose(reg.sum(1), torch.ones(24, 24, dtype=reg.dtype))
    gens = group.generators()
    assert gens[0].shape[0] == 1 + 2  # one C4 generator, two S3 generators
    so3_sn = product(SO3(), SymmetricGroup(3))
    assert so3_sn.lie_algebra("standard").shape == (3, 5, 5)  # 3 + (3 − 1)
    assert so3_sn.lie_algebra("standard@1").shape[0] == 3  # S3 part: SO(3) acts trivially
    assert so3_sn.discrete_generators()[0].shape == (2, 3, 3)
