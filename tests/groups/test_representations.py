"""The representation algebra: sums, tensors, duals and the induced action on maps."""

import pytest
import torch

from quotient.groups import (
    SO3,
    CyclicGroup,
    DihedralGroup,
    SymmetricGroup,
    act_on_maps,
    hom,
    permutation_representation,
    product,
    representation_from_function,
    representation_from_generators,
    representation_from_matrices,
    rotation_matrix_2d,
    standard_representation,
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


# --- building representations from data (checked constructors) ---


def _quarter_turn():
    return torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64)


def test_a_representation_from_generators_extends_along_the_group():
    """The images of the generators fix ρ on every element: C4 from its quarter turn is the
    standard representation, D4 from (r, s) likewise, a product of cyclic groups from one
    matrix per factor generator, and S3 from a transposition and a 3-cycle."""
    c4 = CyclicGroup(4)
    rep = representation_from_generators(c4, _quarter_turn(), "rot")
    assert rep.name == "rot" and rep.dim == 2
    assert torch.allclose(rep.elements(), c4.rep("standard").elements(), atol=TOL)
    d4 = DihedralGroup(4)
    gens = d4.representation(d4.generators(), "standard")
    assert torch.allclose(representation_from_generators(d4, gens).elements(),
                          d4.representation(d4.elements(), "standard"), atol=TOL)
    c2c3 = product(CyclicGroup(2), CyclicGroup(3))
    gens = c2c3.representation(c2c3.generators(), "standard")
    rep = representation_from_generators(c2c3, gens)
    assert torch.allclose(rep(c2c3.elements()), c2c3.representation(c2c3.elements(),
                                                                      "standard"), atol=TOL)
    s3 = SymmetricGroup(3)
    gens = s3.representation(s3.generators(), "sign")
    assert rep.group is c2c3
    assert torch.equal(representation_from_generators(s3, gens).elements()[:, 0, 0],
                       s3.representation(s3.elements(), "sign")[:, 0, 0])


def test_generators_that_break_a_relation_are_refused():
    c4 = CyclicGroup(4)
    sixth = rotation_matrix_2d(torch.tensor([torch.pi / 3], dtype=torch.float64))  # r⁴ ≠ e
    with pytest.raises(ValueError, match=r"^bad: these matrices are not a representation of C4: "
                                         r"ρ\(g h\) differs from ρ\(g\) ρ\(h\) by 1\.50e\+00 for "
                                         r"a generator h \(check the element order: "
                                         r"group\.elements\(\)\)$"):
        representation_from_generators(c4, sixth, "bad")
    # within atol the same matrices pass
    nearly = _quarter_turn() * (1 + 1e-7)
    with pytest.raises(ValueError, match="not a representation"):
        representation_from_generators(c4, nearly)
    representation_from_generators(c4, nearly, atol=1e-5)
    cases = [
        (lambda: representation_from_generators(c4, torch.zeros(2, 2, 2)),
         "C4 has 1 generators (group.generators()); pass (1, d, d) matrices, got (2, 2, 2)"),
        (lambda: representation_from_generators(c4, torch.zeros(1, 2, 3)),
         "C4 has 1 generators (group.generators()); pass (1, d, d) matrices, got (1, 2, 3)"),
        (lambda: representation_from_generators(c4, torch.zeros(2, 2)),
         "C4 has 1 generators (group.generators()); pass (1, d, d) matrices, got (2, 2)"),
        (lambda: representation_from_generators(c4, torch.full((1, 2, 2), float("nan"))),
         "generator matrices contain NaN or infinite values"),
        (lambda: representation_from_generators(SO3(), torch.zeros(0, 3, 3)),
         "representation_from_generators needs a finite group (all elements are listed); "
         "SO(3) is not finite — use representation_from_function with Lie generators"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError) as info:
            build()
        assert str(info.value) == message


def test_a_representation_from_matrices_is_checked_and_looked_up():
    d4 = DihedralGroup(4)
    mats = d4.representation(d4.elements(), "regular")
    rep = representation_from_matrices(d4, mats, "reg")
    g = d4.sample(6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rep(g), d4.representation(g, "regular").double())
    assert rep(d4.identity(0)).shape == (0, 8, 8)
    assert rep.lie_generators().shape == (0, 8, 8)
    swapped = mats[[1, 0, 2, 3, 4, 5, 6, 7]]
    cases = [
        (lambda: representation_from_matrices(d4, swapped, "swapped"),
         "swapped: the matrix of the identity (the first element) is not I"),
        (lambda: representation_from_matrices(d4, mats[:7]),
         "matrices must have shape (8, d, d) — one square matrix per element of D4 in "
         "group.elements() order — got (7, 8, 8)"),
        (lambda: representation_from_matrices(d4, mats[:, :, :7]),
         "matrices must have shape (8, d, d) — one square matrix per element of D4 in "
         "group.elements() order — got (8, 8, 7)"),
        (lambda: representation_from_matrices(d4, mats[0]),
         "matrices must have shape (8, d, d) — one square matrix per element of D4 in "
         "group.elements() order — got (8, 8)"),
        (lambda: representation_from_matrices(d4, mats * float("inf")),
         "matrices contain NaN or infinite values"),
        (lambda: representation_from_matrices(SO3(), mats),
         "representation_from_matrices needs a finite group (all elements are listed); SO(3) "
         "is not finite — use representation_from_function with Lie generators"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError) as info:
            build()
        assert str(info.value) == message
    # the rotations listed in another order: the identity is right but products are not
    rot = d4.representation(d4.elements(), "standard")
    shuffled = rot[[0, 2, 1, 3, 4, 5, 6, 7]]
    with pytest.raises(ValueError, match="^custom: these matrices are not a representation"):
        representation_from_matrices(d4, shuffled)
    assert representation_from_matrices(d4, shuffled, check=False).dim == 2
    nearly = torch.cat([rot[:1], rot[1:] * (1 + 1e-7)])
    with pytest.raises(ValueError, match="not a representation"):
        representation_from_matrices(d4, nearly)
    representation_from_matrices(d4, nearly, atol=1e-5)
    assert torch.allclose(representation_from_matrices(d4, rot).elements(), rot)


def test_a_representation_from_a_function_carries_its_lie_generators():
    so3 = SO3()
    rep = representation_from_function(so3, lambda g: g, 3, lie=so3.lie_algebra())
    assert rep.name == "custom" and rep.dim == 3
    assert torch.equal(rep.lie_generators(), so3.lie_algebra())
    flat = representation_from_function(so3, lambda g: torch.ones(g.shape[0], 1, 1), 1, "one")
    assert flat.lie_generators().shape == (3, 1, 1) and not flat.lie_generators().any()
    assert representation_from_function(CyclicGroup(3), lambda g: g, 2).lie_generators().shape \
        == (0, 2, 2)
    with pytest.raises(ValueError) as info:
        representation_from_function(so3, lambda g: g, 2, lie=torch.zeros(1, 2, 2))
    assert str(info.value) == "lie must have shape (3, 2, 2) for SO(3), got (1, 2, 2)"
    with pytest.raises(ValueError) as info:
        representation_from_function(so3, lambda g: g, 0)
    assert str(info.value) == "a representation needs dimension >= 1, got 0"
    representation_from_function(so3, lambda g: g, 1)  # dimension 1 is allowed
    with pytest.raises(TypeError, match="^SO\\(3\\) is not finite; it has no element list$"):
        rep.elements()
    c4 = CyclicGroup(4)
    assert torch.equal(c4.rep("standard").discrete_generators(),
                       c4.representation(c4.generators(), "standard"))
    assert c4.rep("standard").discrete_generators().dtype == torch.float64


def test_standard_and_permutation_representations_by_name():
    assert standard_representation(DihedralGroup(4)).name == "standard"
    assert standard_representation(SymmetricGroup(4)).dim == 3
    with pytest.raises(ValueError, match="^S1 has no standard representation$"):
        standard_representation(SymmetricGroup(1))
    assert permutation_representation(SymmetricGroup(4)).dim == 4
    assert permutation_representation(CyclicGroup(5)).name == "permutation"
    with pytest.raises(ValueError) as info:
        permutation_representation(SO3())
    assert str(info.value) == ("SO(3) has no natural permutation representation; build one with "
                               "representation_from_generators")
