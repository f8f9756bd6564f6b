"""The details behind the axioms: constructors and names, get_group, the default arguments,
dtypes and shapes of elements and representations, and the representation algebra's names and
Lie generators (each test kills mutants of groups/; see scripts/mutation.py)."""

import math

import pytest
import torch

from quotient.groups import (
    E2,
    E3,
    O3,
    SE2,
    SE3,
    SO2,
    SO3,
    CyclicGroup,
    CyclicShifts,
    CyclicShifts2d,
    DihedralGroup,
    DirectProduct,
    FiniteDirectProduct,
    FiniteGroup,
    Representation,
    RigidMotions,
    SymmetricGroup,
    Translations,
    act_on_maps,
    direct_sum,
    get_group,
    homogeneous,
    product,
    representation_from_function,
    representation_from_generators,
    rotation_matrix_2d,
    so3_generators,
    tensor,
    translation_part,
)
from quotient.groups._base import degrees

F64 = torch.float64


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_constructors_name_their_groups_and_refuse_bad_sizes():
    assert [g.name for g in (CyclicShifts(7), CyclicShifts2d(3, 4), DihedralGroup(5),
                             Translations(2), SE2(), E2(), SE3(), E3(),
                             RigidMotions(2), product(SO3(), SymmetricGroup(4)))] == [
        "Z7", "Z3xZ4", "D5", "T(2)", "SE(2)", "E(2)", "SE(3)", "E(3)", "SE(2)", "SO(3) × S4"]
    assert CyclicShifts(7).n == CyclicShifts(7).order == 7
    assert (SE2().d, SE2().proper, E2().proper, SE3().d, E3().d, E3().proper) == \
        (2, True, False, 3, 3, False)
    assert [f(2.5).scale for f in (SE2, E2, SE3, E3)] == [2.5] * 4
    assert [f().scale for f in (SE2, E2, SE3, E3)] == [1.0] * 4
    assert (Translations(3).d, Translations(3).scale, Translations(3, 0.5).scale) == (3, 1.0, 0.5)
    assert sorted(SO2().representations) == ["freq1", "freq2", "freq3", "freq4", "standard"]
    for small in (CyclicGroup(1), DihedralGroup(1), SymmetricGroup(1), CyclicShifts2d(1, 1)):
        assert small.order == (2 if isinstance(small, DihedralGroup) else 1)
    cases = [
        (lambda: CyclicGroup(0), "cyclic group order must be a positive int, got 0"),
        (lambda: CyclicGroup(2.0), "cyclic group order must be a positive int, got 2.0"),
        (lambda: DihedralGroup(0), "dihedral group needs a positive int n, got 0"),
        (lambda: DihedralGroup("4"), "dihedral group needs a positive int n, got '4'"),
        (lambda: SymmetricGroup(0), "symmetric group needs a positive int n, got 0"),
        (lambda: SymmetricGroup(3.0), "symmetric group needs a positive int n, got 3.0"),
        (lambda: CyclicShifts2d(0, 3), "grid size must be positive, got 0x3"),
        (lambda: CyclicShifts2d(3, 0), "grid size must be positive, got 3x0"),
        (lambda: RigidMotions(4), "rigid motions are implemented for d = 2 or 3, got 4"),
        (lambda: DirectProduct(SO3()), "a direct product needs at least two factors"),
        (lambda: FiniteDirectProduct(SO3(), CyclicGroup(4)),
         "FiniteDirectProduct needs finite factors; use DirectProduct"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError) as info:
            build()
        assert str(info.value) == message


def test_get_group_reads_every_short_name():
    names = {"SO2": "SO(2)", "SO3": "SO(3)", "O3": "O(3)", "SE2": "SE(2)", "E2": "E(2)",
             "SE3": "SE(3)", "E3": "E(3)", "C4": "C4", "D8": "D8", "S5": "S5", "Z28": "Z28",
             "T3": "T(3)", " C4 ": "C4", "C1": "C1"}
    for spec, name in names.items():
        assert get_group(spec).name == name
    assert get_group("Z28").n == 28 and get_group("D8").order == 16
    for spec in ("C", "D", "S", "Z", "T", "Z2d", "C0", "c4", "S-1", "SU2"):
        with pytest.raises(ValueError) as info:
            get_group(spec)
        assert str(info.value) == (
            f"unknown group {spec!r}; use one of SO2, SO3, O3, SE2, E2, SE3, E3, or Cn, Dn, Sn, "
            "Zn, Td with a positive integer (e.g. C4, S5)")


def test_degrees_are_whole_when_they_are_whole():
    assert degrees(math.pi / 2) == "90°" and degrees(-math.pi) == "-180°"
    assert degrees(1.0) == "57.3°" and degrees(math.radians(90.5)) == "90.5°"
    assert degrees(math.radians(12345)) == "12345°" and degrees(0.0) == "0°"


def test_generators_are_the_documented_ones():
    """S_n: the transposition (0 1) and the n-cycle i ↦ i + 1; D_n: r and s; C_n: 1; a product
    pairs each factor's generators with the other factors' identity; connected groups and
    their products have none."""
    assert SymmetricGroup(4).generators().tolist() == [[1, 0, 2, 3], [1, 2, 3, 0]]
    assert SymmetricGroup(2).generators().tolist() == [[1, 0], [1, 0]]
    assert SymmetricGroup(1).generators().tolist() == [[0], [0]]
    assert DihedralGroup(5).generators().tolist() == [[1, 0], [0, 1]]
    gens = CyclicGroup(6).generators()
    assert gens.tolist() == [1] and gens.dtype == torch.long
    c4s3 = product(CyclicGroup(4), SymmetricGroup(3)).generators()
    assert c4s3[0].tolist() == [1, 0, 0]
    assert c4s3[1].tolist() == [[0, 1, 2], [1, 0, 2], [1, 2, 0]]
    lie_only = product(SO3(), SO2()).discrete_generators()
    assert lie_only[0].shape == (0, 3, 3) and lie_only[1].shape == (0,)
    mixed = product(O3(), SO2()).discrete_generators()
    assert torch.equal(mixed[0], -torch.eye(3, dtype=F64)[None]) and mixed[1].tolist() == [0.0]


def test_default_arguments_dtypes_and_shapes():
    grid = CyclicShifts2d(3, 4)
    e = grid.identity()
    assert e.shape == (1, 2) and e.dtype == torch.long
    assert grid.elements()[:5].tolist() == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0]]
    assert torch.equal(grid.index(grid.elements()), torch.arange(12))
    g, h = torch.tensor([[2, 3], [1, 1]]), torch.tensor([[2, 3], [2, 1]])
    dist = grid.distance(g, h)
    assert dist.dtype == F64 and dist.tolist() == [0.0, 1.0]
    assert grid.compose(g, h).tolist() == [[1, 2], [0, 2]]
    assert grid.inverse(g).tolist() == [[1, 1], [2, 3]]

    t3 = Translations(3)
    assert t3.identity().shape == (1, 3) and t3.identity().dtype == F64
    assert t3.identity(2, dtype=torch.float32).dtype == torch.float32
    a = torch.tensor([[0.0, 3.0, 4.0], [1.0, 0.0, 0.0]], dtype=F64)
    assert t3.distance(a, torch.zeros(2, 3, dtype=F64)).tolist() == [5.0, 1.0]
    assert torch.equal(Translations(3, scale=2.0).sample(5, generator=_seeded()),
                       2.0 * torch.randn(5, 3, generator=_seeded(), dtype=F64))
    assert t3.sample(4, dtype=torch.float32).dtype == torch.float32
    rep = t3.representation(a)
    assert rep.dtype == F64 and rep.shape == (2, 4, 4)
    assert torch.equal(rep[:, :3, 3], a) and torch.equal(rep[:, :3, :3], torch.eye(3, dtype=F64)
                                                         .expand(2, 3, 3))
    assert t3.lie_algebra().shape == (3, 4, 4) and t3.lie_algebra("trivial").shape == (3, 1, 1)
    assert t3.lie_algebra("trivial").dtype == F64

    o3 = O3()
    assert torch.equal(o3.sample(6, generator=_seeded()), o3.sample(6, generator=_seeded()))
    assert not torch.equal(o3.sample(6, generator=_seeded()), o3.sample(6, generator=_seeded(1)))
    assert o3.sample(3, dtype=torch.float32).dtype == torch.float32
    assert o3.lie_algebra().shape == (3, 3, 3)
    assert o3.lie_algebra("det").shape == (3, 1, 1) and not o3.lie_algebra("det").any()
    assert torch.equal(o3.lie_algebra("pseudovector"), so3_generators())
    improper = -rotation_like()
    assert torch.equal(o3.representation(improper, "pseudovector"), -improper)
    assert torch.equal(o3.representation(improper, "standard"), improper)
    assert o3.representation(improper, "det").tolist() == [[[-1.0]]]

    d4s3 = product(CyclicGroup(4), SymmetricGroup(3))
    idx = d4s3.index(d4s3.elements())
    assert idx.dtype == torch.long and torch.equal(idx, torch.arange(24))
    with pytest.raises(ValueError):
        d4s3.index((torch.tensor([1]),))  # an element of another product
    assert CyclicGroup(4).rep().name == "standard"
    assert Representation.of(CyclicGroup(4)).name == "standard"
    c4 = CyclicGroup(4)
    assert Representation.of(c4).group is c4


def rotation_like():
    return torch.tensor([[[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]], dtype=F64)


def test_two_dimensional_motions_in_words():
    thirty = rotation_matrix_2d(torch.tensor([math.pi / 6], dtype=F64))
    assert SE2().describe(homogeneous(thirty, torch.zeros(1, 2, dtype=F64))) == [
        "rotation by 30°, then translation by (0, 0)"]
    flipped = thirty @ torch.diag(torch.tensor([1.0, -1.0], dtype=F64))
    assert E2().describe(homogeneous(flipped, torch.tensor([[0.5, 1.0]], dtype=F64))) == [
        "reflection, then rotation by 30°, then translation by (0.5, 1)"]


def test_the_representation_algebra_names_and_generators():
    so3, c4, so2 = SO3(), CyclicGroup(4), SO2()
    s, t = so3.rep(), so3.rep("trivial")
    total = s + t
    assert total.name == "standard⊕trivial" and total.dim == 4 and total.group is so3
    lie = total.lie_generators()
    assert lie.shape == (3, 4, 4) and torch.equal(lie[:, :3, :3], so3_generators())
    assert not lie[:, 3].any() and not lie[:, :, 3].any()
    finite = c4.rep() + c4.rep("regular")
    assert finite.lie_generators().shape == (0, 6, 6)
    assert finite.lie_generators().dtype == F64
    assert direct_sum(c4.rep(), c4.rep(), c4.rep()).dim == 6
    with pytest.raises(ValueError, match="^direct sum of representations of different group "
                                         "objects$"):
        c4.rep() + CyclicGroup(4).rep()

    prod = t * s
    assert prod.name == "(trivial⊗standard)" and prod.dim == 3 and prod.group is so3
    assert torch.equal(prod.lie_generators(), so3_generators())
    gen = so2.lie_algebra()[0]
    eye = torch.eye(2, dtype=F64)
    expected = torch.kron(gen, eye) + torch.kron(eye, gen)
    assert torch.allclose(tensor(so2.rep(), so2.rep()).lie_generators()[0], expected)
    assert (c4.rep() * c4.rep()).lie_generators().shape == (0, 4, 4)
    assert (c4.rep() * c4.rep()).lie_generators().dtype == F64
    with pytest.raises(ValueError, match="^tensor product of representations of different "
                                         "group objects$"):
        c4.rep() * CyclicGroup(4).rep()
    assert s ** 1 is s and (s ** 3).dim == 27
    with pytest.raises(ValueError, match="^tensor power needs k >= 1$"):
        s ** 0

    dual = so2.rep("freq2").dual()
    assert dual.name == "freq2*" and dual.group is so2
    assert torch.equal(dual.lie_generators(), -so2.lie_algebra("freq2").transpose(-1, -2))
    assert torch.equal(so3.rep().dual().lie_generators(), so3_generators())  # −Lᵀ = L
    skew = representation_from_function(so2, lambda g: g, 2,
                                        lie=torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]))
    assert torch.equal(skew.dual().lie_generators(),
                       -torch.tensor([[[1.0, 3.0], [2.0, 4.0]]], dtype=F64))
    loose = Representation(c4, 1, "loose", lambda g: torch.ones(len(g), 1, 1),
                           lambda: torch.zeros(0, 1, 1))
    assert loose.lie_generators().dtype == F64

    g = so3.sample(2, generator=_seeded())
    maps = torch.randn(2, 3, 3, generator=_seeded())  # float32 maps, float64 representations
    moved = act_on_maps(so3.rep(), so3.rep(), g, maps)
    assert moved.dtype == torch.float32
    assert torch.allclose(moved.double(), g @ maps.double() @ g.transpose(1, 2), atol=1e-5)


class _Signs(FiniteGroup):
    """{+1, −1} under multiplication, with floating-point elements ``(batch, 1)`` (every built-in
    finite group has integer elements, which ignore a dtype)."""

    name = "±1"
    order = 2
    representations = {"standard": 1, "regular": 2}

    def elements(self, *, dtype=F64, device=None):
        return torch.tensor([[1.0], [-1.0]], dtype=dtype, device=device)

    def generators(self):
        return self.elements()[1:]

    def identity(self, batch=1, *, dtype=F64, device=None):
        return torch.ones(batch, 1, dtype=dtype, device=device)

    def compose(self, g, h):
        return g * h

    def inverse(self, g):
        return g

    def distance(self, g, h):
        return (g - h).abs().sum(1).to(F64)

    def _representation(self, g, kind):
        return self.regular_representation(g) if kind == "regular" else g[:, :, None]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_groups_with_floating_elements_keep_the_requested_dtype(dtype):
    signs = _Signs()
    picked = signs.element_at(torch.tensor([1, 0, 1]), dtype=dtype)
    assert picked.dtype == dtype and picked[:, 0].tolist() == [-1.0, 1.0, -1.0]
    assert signs.sample(5, generator=_seeded(), dtype=dtype).dtype == dtype
    prod = FiniteDirectProduct(CyclicGroup(3), signs)
    assert prod.elements(dtype=dtype)[1].dtype == dtype
    assert prod.sample(4, generator=_seeded(), dtype=dtype)[1].dtype == dtype


def test_regular_representation_takes_the_dtype_of_floating_elements():
    signs = _Signs()
    flip = signs.regular_representation(torch.tensor([[-1.0], [1.0]]))  # float32 elements
    assert flip.dtype == torch.float32
    assert flip.tolist() == [[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]]
    # a product reads its first component: integer C2 elements give float64, whatever the second
    prod = FiniteDirectProduct(CyclicGroup(2), signs)
    g = (torch.tensor([1]), torch.tensor([[-1.0]]))
    mat = prod.regular_representation(g)
    assert mat.dtype == F64
    assert torch.equal(mat @ mat, torch.eye(4, dtype=F64)[None])  # an involution
    assert float(mat.diagonal(dim1=1, dim2=2).sum()) == 0.0  # moves every element


def test_rigid_motions_sample_translations_at_float64_resolution():
    t = translation_part(RigidMotions(3).sample(64, generator=_seeded()))
    assert t.dtype == F64
    # float64 draws, not float32 draws cast up: most entries are not float32 numbers
    assert int((t.to(torch.float32).to(F64) != t).sum()) > 100


def test_a_direct_sum_of_one_representation_is_that_representation():
    for group in (DihedralGroup(3), SO2()):
        rep = group.rep("standard")
        alone = direct_sum(rep)
        g = group.sample(4, generator=_seeded())
        assert alone.dim == rep.dim
        assert torch.equal(alone(g), rep(g))
        assert torch.equal(alone.lie_generators(), rep.lie_generators())


def test_float32_generator_images_give_the_float64_representation():
    group = CyclicGroup(4)
    quarter = torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float32)
    rep = representation_from_generators(group, quarter)
    mats = rep(group.elements())
    assert mats.dtype == F64
    for k in range(4):
        assert torch.equal(mats[k], torch.linalg.matrix_power(quarter[0].to(F64), k))


class _C4GeneratedByIdentity(CyclicGroup):
    def generators(self):
        return self.identity(1)


def test_generators_that_do_not_generate_the_group_are_reported():
    with pytest.raises(ValueError, match=r"generators\(\) of C4 do not generate the group"):
        representation_from_generators(_C4GeneratedByIdentity(4), torch.eye(2)[None])
