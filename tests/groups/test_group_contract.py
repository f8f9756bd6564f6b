"""What every group promises beyond the axioms: reproducible sampling from a generator, the
requested dtype, the default batch of one, float64 representations and distances of shape
(batch,), refusals of bad batches and of elements of another product; and the numerical
details of rotations (quaternions, axis-angle words, Lie generators)."""

import math
import re

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
    Group,
    RigidMotions,
    SymmetricGroup,
    Translations,
    batch_size,
    direct_sum,
    product,
    quaternion_to_matrix,
    representation_from_function,
    representation_from_matrices,
    so3_generators,
)

F64, F32 = torch.float64, torch.float32
LIE = [SO2(), SO3(), O3(), SE2(), E2(), SE3(), E3(), Translations(3),
       product(SO3(), SO2()), product(E3(), SymmetricGroup(3))]
FINITE = [CyclicGroup(5), CyclicShifts(4), CyclicShifts2d(2, 3), DihedralGroup(4),
          SymmetricGroup(4), product(CyclicGroup(2), DihedralGroup(3))]
ALL = LIE + FINITE


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def _parts(g):
    return list(g) if isinstance(g, tuple) else [g]


def _equal(g, h):
    return all(torch.equal(a, b) for a, b in zip(_parts(g), _parts(h), strict=True))


@pytest.mark.parametrize("group", ALL, ids=[g.name for g in ALL])
def test_sampling_is_reproducible_from_a_generator(group):
    a = group.sample(64, generator=_seeded(0))
    assert _equal(a, group.sample(64, generator=_seeded(0)))
    assert not _equal(a, group.sample(64, generator=_seeded(1)))


@pytest.mark.parametrize("group", ALL, ids=[g.name for g in ALL])
def test_the_requested_dtype_default_batch_and_float64_outputs(group):
    """Floating-point parts of elements come in the requested dtype (integer parts stay
    integers); identity() is a batch of one; representations (of float64 elements) and
    distances are float64 with one row per element; Lie algebras are float64."""
    for dtype in (F32, F64):
        for g in (group.sample(3, dtype=dtype, generator=_seeded()), group.identity(3,
                                                                                 dtype=dtype)):
            for part in _parts(g):
                assert part.dtype == (dtype if part.is_floating_point() else torch.long)
    assert batch_size(group.identity()) == 1
    shapes = [p.shape[1:] for p in _parts(group.sample(2, generator=_seeded()))]
    assert [p.shape[1:] for p in _parts(group.identity(2))] == shapes
    g, h = group.sample(5, generator=_seeded(2)), group.sample(5, generator=_seeded(3))
    dist = group.distance(g, h)
    assert dist.shape == (5,) and dist.dtype == F64 and bool((dist >= 0).all())
    assert not group.distance(g, g).any()
    for kind in [*group.representations, "trivial"]:
        rep = group.representation(g, kind)
        assert rep.shape == (5, group.rep_dim(kind), group.rep_dim(kind)) and rep.dtype == F64
    assert group.rep_dim() == group.rep_dim("standard")
    default = group.lie_algebra()
    assert torch.equal(default, group.lie_algebra("standard")) and default.dtype == F64
    assert group.lie_algebra("trivial").shape[1:] == (1, 1)
    assert group.lie_algebra("trivial").shape[0] == default.shape[0]


def test_float32_elements_keep_their_dtype_in_the_trivial_representation():
    so3 = SO3()
    g = so3.sample(2, dtype=F32, generator=_seeded())
    assert so3.representation(g, "trivial").dtype == F32
    assert so3.representation(g, "standard").dtype == F32
    assert so3.rep()(g).dtype == F64  # Representation objects are float64 throughout
    mixed = product(SO3(), SymmetricGroup(3))
    h = mixed.sample(2, dtype=F32, generator=_seeded())
    assert mixed.representation(h, "trivial").dtype == F32
    assert mixed.representation(h, "standard").dtype == F64
    assert CyclicGroup(4).representation(torch.tensor([1, 2]), "trivial").dtype == F64
    both = product(SO3(), SO2())
    assert both.distance(both.sample(2, dtype=F32), both.identity(2, dtype=F32)).dtype == F64


def test_bad_batches_and_unknown_representations_are_refused():
    for batch, shown in ((-1, "-1"), (2.0, "2.0")):
        with pytest.raises(ValueError) as info:
            SO3().identity(batch)
        assert str(info.value) == f"batch must be a non-negative int, got {shown}"
    assert SO3().identity(0).shape == (0, 3, 3)
    with pytest.raises(ValueError) as info:
        CyclicGroup(4).representation(torch.tensor([1]), "sign")
    assert str(info.value) == ("C4 has no representation 'sign'; choose one of ['permutation', "
                               "'regular', 'standard', 'trivial']")
    with pytest.raises(ValueError) as info:
        SO3().rep_dim("sign")
    assert str(info.value) == "SO(3) has no representation 'sign'"
    assert SO3().rep_dim("trivial") == 1


def test_elements_of_another_product_are_refused():
    """Componentwise operations insist on one part per factor."""
    group = product(SO3(), CyclicGroup(4))
    g = group.sample(2, generator=_seeded())
    short = (g[0],)
    for op in (lambda: group.compose(g, short), lambda: group.compose(short, g),
               lambda: group.inverse(short), lambda: group.distance(g, short),
               lambda: group.describe(short), lambda: group.representation(short, "standard")):
        with pytest.raises(ValueError):
            op()


def test_product_lie_algebras_embed_each_factor():
    group = product(SO3(), SO2())
    lie = group.lie_algebra()
    assert lie.shape == (4, 5, 5)
    assert torch.equal(lie[:3, :3, :3], so3_generators()) and not lie[:3, 3:].any()
    assert torch.equal(lie[3, 3:, 3:], SO2().lie_algebra()[0]) and not lie[3, :3].any()
    at0, at1 = group.lie_algebra("standard@0"), group.lie_algebra("standard@1")
    assert at0.shape == (4, 3, 3) and torch.equal(at0[:3], so3_generators())
    assert not at0[3].any()  # SO(2) acts trivially on the SO(3) part
    assert at1.shape == (4, 2, 2) and not at1[:3].any()
    assert torch.equal(at1[3], SO2().lie_algebra()[0])
    finite = product(CyclicGroup(4), SymmetricGroup(3))
    assert finite.lie_algebra().shape == (0, 4, 4) and finite.lie_algebra().dtype == F64
    assert finite.lie_algebra("regular").shape == (0, 24, 24)
    assert finite.lie_algebra("regular").dtype == F64
    mixed = product(CyclicGroup(4), SO2())
    assert mixed.lie_algebra("standard@0").shape == (1, 2, 2)
    assert not mixed.lie_algebra("standard@0").any()
    assert torch.equal(mixed.lie_algebra("standard@1"), SO2().lie_algebra())
    three = product(SO2(), SO2(), SO2())
    lie3 = three.lie_algebra()
    assert lie3.shape == (3, 6, 6)
    for i in range(3):
        assert torch.equal(lie3[i, 2 * i:2 * i + 2, 2 * i:2 * i + 2], SO2().lie_algebra()[0])
        assert float(lie3[i].abs().sum()) == 2.0


def test_nested_products_name_representations_by_their_path():
    inner = product(CyclicGroup(4), SymmetricGroup(3))
    outer = product(inner, SO2())
    g = outer.sample(3, generator=_seeded())
    assert torch.equal(outer.representation(g, "standard@0@0"),
                       CyclicGroup(4).representation(g[0][0], "standard"))
    assert outer.rep_dim("sign@1@0") == 1


def test_rigid_motion_details():
    assert RigidMotions(3).scale == 1.0
    assert SE2().lie_algebra().shape == (3, 3, 3) and SE2().lie_algebra("trivial").shape == (
        3, 1, 1)
    assert SE2().lie_algebra("rotation").shape == (3, 2, 2)
    assert SE3().lie_algebra("trivial").shape == (6, 1, 1)
    t = Translations(3).lie_algebra()
    for i in range(3):
        unit = torch.zeros(4, 4, dtype=F64)
        unit[i, 3] = 1.0
        assert torch.equal(t[i], unit)
    assert SE2().sample_rotation(3, dtype=F32, generator=_seeded()).dtype == F32
    for group in (SE2(), E2()):
        ang = torch.atan2(group.sample(20000, generator=_seeded())[:, 1, 0],
                          group.sample(20000, generator=_seeded())[:, 0, 0])
        assert abs(float(torch.cos(ang).mean())) < 0.02 and abs(float(torch.sin(ang).mean())) < 0.02
    for scale in (0.5, 2.5):
        t = SE3(scale).sample(20000, generator=_seeded())[:, :3, 3]
        assert abs(float(t.std()) / scale - 1) < 0.02 and abs(float(t.mean())) < 0.03 * scale
    g = SE3().sample(5, generator=_seeded())
    assert SE3().distance(g, SE3().identity(5)).shape == (5,)


def test_planar_rotations_and_shifts_in_detail():
    assert torch.equal(SO2().sample(5, generator=_seeded()),
                       2 * math.pi * torch.rand(5, generator=_seeded(), dtype=F64))
    assert float(SO2().compose(torch.tensor([math.pi], dtype=F64),
                               torch.tensor([1.5 * math.pi], dtype=F64))) == pytest.approx(
        0.5 * math.pi)
    assert SO2().lie_algebra("trivial").shape == (1, 1, 1)
    z5 = CyclicShifts(5)
    x = torch.arange(5, dtype=F64)
    for k in range(5):
        assert torch.equal(z5.representation(torch.tensor([k]))[0] @ x, torch.roll(x, k))
    fourier = z5.representation(torch.tensor([1]), "fourier")[0]
    angle = 2 * math.pi / 5
    assert torch.allclose(fourier, torch.tensor([[math.cos(angle), -math.sin(angle)],
                                                 [math.sin(angle), math.cos(angle)]],
                                                dtype=F64))
    assert DihedralGroup(4).describe(torch.tensor([[4, 0], [1, 2], [0, 2]])) == [
        "identity", "rotation by 90°", "identity"]
    assert batch_size(SymmetricGroup(8).elements()) == 40320
    with pytest.raises(ValueError, match="too many to enumerate"):
        SymmetricGroup(9).elements()


def test_numbers_in_the_default_description():
    assert Group.describe(SymmetricGroup(12), SymmetricGroup(12).identity()) == [
        ", ".join(str(i) for i in range(12))]
    assert Group.describe(SymmetricGroup(13), SymmetricGroup(13).identity()) == [
        ", ".join(str(i) for i in range(12)) + ", ..."]
    assert Group.describe(CyclicGroup(200000), torch.tensor([123456])) == ["123456"]


def test_quaternions_and_lie_generators_turn_counter_clockwise():
    quarter_z = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=F64)
    q = torch.tensor([[math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]], dtype=F64)
    assert torch.allclose(quaternion_to_matrix(q)[0], quarter_z, atol=1e-15)
    assert torch.allclose(quaternion_to_matrix(3 * q)[0], quarter_z, atol=1e-15)  # normalised
    assert torch.allclose(torch.linalg.matrix_exp(math.pi / 2 * so3_generators()[2]), quarter_z,
                          atol=1e-15)
    assert O3().lie_algebra("trivial").shape == (3, 1, 1)
    assert O3().discrete_generators().dtype == F64


def _rodrigues(axis, degrees):
    n = torch.tensor(axis, dtype=F64)
    k = torch.tensor([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]], dtype=F64)
    t = math.radians(degrees)
    return torch.eye(3, dtype=F64) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


_WORDS = re.compile(r"rotation by (\S+)° about \((\S+), (\S+), (\S+)\)(, then point reflection)?$")


def test_rotations_in_words_rebuild_the_rotation():
    """The words name the rotation: rebuilding it from the printed angle and axis gives the
    matrix back (to the three printed digits), for random proper and improper rotations,
    small ones and ones within rounding of the identity or of a half turn."""
    mats = [*SO3().sample(16, generator=_seeded()), *O3().sample(16, generator=_seeded(1)),
            _rodrigues([1 / 3, 2 / 3, 2 / 3], 10.0), _rodrigues([1 / 3, 2 / 3, 2 / 3], 60.0)]
    for r in mats:
        words = SO3().describe(r[None])[0]
        m = _WORDS.match(words)
        assert m, words
        rebuilt = _rodrigues([float(m.group(i)) for i in (2, 3, 4)], float(m.group(1)))
        if m.group(5):
            rebuilt = -rebuilt
        assert torch.allclose(rebuilt, r, atol=5e-3), (words, r)
    # within float32 rounding (1e-6) of a half turn or of the identity: |cos| slightly above 1
    half = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=F64)) * (1 + 1e-6)
    assert re.fullmatch(r"rotation by 180° about \(-?1, -?0, -?0\)",
                        SO3().describe(half[None])[0])
    assert SO3().describe((torch.eye(3, dtype=F64) * (1 + 1e-6))[None]) == ["identity"]


def test_representations_from_data_are_float64_for_any_batch():
    c4 = CyclicGroup(4)
    mats = c4.representation(c4.elements(), "standard").float()
    rep = representation_from_matrices(c4, mats)
    assert rep(torch.tensor([1])).shape == (1, 2, 2) and rep(torch.tensor([1])).dtype == F64
    assert torch.allclose(rep(torch.tensor([1]))[0], c4.representation(torch.tensor([1]))[0],
                          atol=1e-7)
    assert rep(c4.identity(0)).dtype == F64
    loose = representation_from_function(c4, lambda g: c4.representation(g).float(), 2)
    assert loose.elements().dtype == F64 and loose.discrete_generators().dtype == F64
    three = direct_sum(c4.rep(), c4.rep("trivial"), c4.rep("regular"))  # three blocks at once
    m = three(torch.tensor([1]))[0]
    assert torch.equal(m[:2, :2], c4.representation(torch.tensor([1]))[0])
    assert m[2, 2] == 1 and torch.equal(m[3:, 3:], c4.representation(torch.tensor([1]),
                                                                     "regular")[0])
    assert not m[:2, 2:].any() and not m[2, 3:].any()
    so2 = SO2()
    two = so2.rep() + so2.rep()
    assert two.lie_generators().shape == (1, 4, 4)


def test_the_left_regular_representation_of_a_product():
    """FiniteGroup.regular_representation works on tuple elements and agrees with the product's
    own regular representation (the Kronecker product of its factors')."""
    from quotient.groups import FiniteGroup, representation_from_generators

    group = product(CyclicGroup(2), DihedralGroup(3))
    g = group.sample(4, generator=_seeded())
    direct = FiniteGroup.regular_representation(group, g)
    assert direct.dtype == F64
    assert torch.equal(direct, group.representation(g, "regular"))
    c4 = CyclicGroup(4)
    assert representation_from_generators(c4, c4.representation(c4.generators())).name == \
        "custom"
