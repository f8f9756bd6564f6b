"""Group axioms and representation homomorphisms for every group, in float64."""

import math

import pytest
import torch

from quotient.groups import (
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
    SymmetricGroup,
    Translations,
    batch_size,
    get_group,
    product,
    repeat_element,
)
from quotient.groups.euclidean import E2

GROUPS = [
    SO2(), SO3(), O3(), CyclicGroup(5), DihedralGroup(4), DihedralGroup(3), SymmetricGroup(5),
    CyclicShifts(7), CyclicShifts2d(3, 4), Translations(3), SE2(), E2(), SE3(), E3(),
    product(SO3(), SymmetricGroup(4)), product(CyclicGroup(4), DihedralGroup(3)),
    product(SE3(), SymmetricGroup(3)), product(SO2(), CyclicShifts(5)),
]
IDS = [g.name for g in GROUPS]
TOL = 1e-10


def close(group: Group, g, h) -> bool:
    return bool((group.distance(g, h) <= TOL).all())


@pytest.mark.parametrize("group", GROUPS, ids=IDS)
def test_identity_and_inverse(group, gen):
    g = group.sample(16, generator=gen)
    e = group.identity(16)
    assert close(group, group.compose(e, g), g)
    assert close(group, group.compose(g, e), g)
    assert close(group, group.compose(g, group.inverse(g)), e)
    assert close(group, group.compose(group.inverse(g), g), e)


@pytest.mark.parametrize("group", GROUPS, ids=IDS)
def test_associativity(group, gen):
    a, b, c = (group.sample(16, generator=gen) for _ in range(3))
    left = group.compose(group.compose(a, b), c)
    right = group.compose(a, group.compose(b, c))
    assert close(group, left, right)


@pytest.mark.parametrize("group", GROUPS, ids=IDS)
def test_samples_are_not_all_identity(group, gen):
    """A sampler that returned the identity would make every equivariance test vacuous."""
    g = group.sample(16, generator=gen)
    assert (group.distance(g, group.identity(16)) > 1e-3).float().mean() > 0.5


@pytest.mark.parametrize("group", GROUPS, ids=IDS)
def test_representations_are_homomorphisms(group, gen):
    a, b = group.sample(8, generator=gen), group.sample(8, generator=gen)
    for kind in [*group.representations, "trivial"]:
        rab = group.representation(group.compose(a, b), kind).double()
        ra = group.representation(a, kind).double()
        rb = group.representation(b, kind).double()
        assert rab.shape == (8, group.rep_dim(kind), group.rep_dim(kind))
        assert torch.allclose(rab, ra @ rb, atol=TOL), kind
        re = group.representation(group.identity(1), kind).double()
        assert torch.allclose(re[0], torch.eye(re.shape[-1], dtype=torch.float64), atol=TOL)


@pytest.mark.parametrize("group", GROUPS, ids=IDS)
def test_lie_algebra_is_closed_under_conjugation(group, gen):
    """ρ(g) dρ(X) ρ(g)⁻¹ lies in the span of the generators (the adjoint action), for every
    representation: a wrong generator basis fails this for random g."""
    g = group.sample(4, generator=gen)
    for kind in group.representations:
        gens = group.lie_algebra(kind)
        if gens.shape[0] == 0:
            assert group.is_finite or kind == "regular"
            continue
        basis = gens.reshape(gens.shape[0], -1).T  # (d², k)
        r = group.representation(g, kind).double()
        conj = r[:, None] @ gens[None] @ torch.linalg.inv(r)[:, None]  # (4, k, d, d)
        flat = conj.reshape(-1, basis.shape[0]).T
        proj = basis @ torch.linalg.pinv(basis)  # orthogonal projector onto the span
        assert torch.allclose(proj @ flat, flat, atol=1e-9), kind


def test_so2_lie_generator_matches_derivative():
    group = SO2()
    t = torch.tensor([1e-6], dtype=torch.float64)
    deriv = (group.representation(t) - group.representation(-t)) / (2e-6)
    assert torch.allclose(deriv[0], group.lie_algebra()[0], atol=1e-8)
    freq3 = (group.representation(t, "freq3") - group.representation(-t, "freq3")) / 2e-6
    assert torch.allclose(freq3[0], group.lie_algebra("freq3")[0], atol=1e-7)


def test_so3_lie_generators_match_derivatives():
    group = SO3()
    gens = group.lie_algebra()
    for x in gens:
        r = torch.linalg.matrix_exp(1e-6 * x)
        assert torch.allclose((r - torch.eye(3, dtype=torch.float64)) / 1e-6, x, atol=1e-5)
        assert abs(float(torch.linalg.det(torch.linalg.matrix_exp(0.9 * x))) - 1) < TOL


def test_se3_lie_generators_generate_rigid_motions():
    group = SE3()
    gens = group.lie_algebra()
    assert gens.shape == (6, 4, 4)
    coeff = torch.tensor([0.3, -0.2, 0.5, 1.0, 2.0, -3.0], dtype=torch.float64)
    m = torch.linalg.matrix_exp((coeff[:, None, None] * gens).sum(0))
    r = m[:3, :3]
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=torch.float64), atol=TOL)
    assert torch.allclose(m[3], torch.tensor([0, 0, 0, 1.0], dtype=torch.float64))
    # composing with its inverse gives the identity element
    g = m[None]
    assert torch.allclose(group.compose(g, group.inverse(g)), group.identity(1), atol=TOL)


@pytest.mark.parametrize("group,order", [
    (CyclicGroup(6), 6), (DihedralGroup(4), 8), (DihedralGroup(5), 10), (SymmetricGroup(4), 24),
    (SymmetricGroup(1), 1), (CyclicShifts2d(2, 3), 6),
    (product(CyclicGroup(3), SymmetricGroup(3)), 18),
])
def test_finite_enumeration(group, order):
    els = group.elements()
    assert batch_size(els) == order == group.order
    # identity first, all distinct, indices consistent with enumeration order
    assert close(group, group.identity(1), _first(els))
    assert torch.equal(group.index(els), torch.arange(order))
    table = group.cayley_table()
    for row in table:  # Latin square: each row a permutation
        assert torch.equal(row.sort().values, torch.arange(order))


def _first(els):
    return tuple(e[:1] for e in els) if isinstance(els, tuple) else els[:1]


@pytest.mark.parametrize("group", [CyclicGroup(4), DihedralGroup(4), SymmetricGroup(4)],
                         ids=lambda g: g.name)
def test_generators_generate(group):
    """The closure of the generators under composition is the whole group."""
    gens = group.generators()
    seen = {0}
    frontier = [group.identity(1)]
    while frontier:
        g = frontier.pop()
        for i in range(batch_size(gens)):
            h = group.compose(g, gens[i:i + 1])
            k = int(group.index(h))
            if k not in seen:
                seen.add(k)
                frontier.append(h)
    assert len(seen) == group.order


def test_regular_representation_is_permutation_and_faithful():
    group = DihedralGroup(4)
    mats = group.representation(group.elements(), "regular")
    assert torch.allclose(mats.sum(1), torch.ones(8, 8, dtype=mats.dtype))
    flat = mats.reshape(8, -1)
    assert torch.linalg.matrix_rank(flat - flat[:1]) > 0
    assert len({tuple(m.reshape(-1).tolist()) for m in mats}) == 8


def test_so3_haar_moments(gen):
    """Haar measure: E[R] = 0 and E[R_ij²] = 1/3 (first and second moments)."""
    r = SO3().sample(20000, generator=gen)
    assert r.mean(0).abs().max() < 0.02
    assert ((r ** 2).mean(0) - 1 / 3).abs().max() < 0.02
    assert torch.allclose(torch.linalg.det(r), torch.ones(20000, dtype=torch.float64), atol=1e-10)
    # trace distribution: E[tr R] = 0, E[tr R²]... E[(tr R)²] = 1 for Haar SO(3)
    tr = r.diagonal(dim1=-2, dim2=-1).sum(-1)
    assert abs(float((tr ** 2).mean()) - 1.0) < 0.05


def test_o3_samples_both_components(gen):
    det = torch.linalg.det(O3().sample(400, generator=gen))
    assert 0.35 < float((det < 0).double().mean()) < 0.65


def test_e2_samples_both_components_and_describes_reflections(gen):
    g = E2().sample(400, generator=gen)
    det = torch.linalg.det(g[:, :2, :2])
    assert torch.allclose(det.abs(), torch.ones_like(det), atol=TOL)
    assert 0.35 < float((det < 0).double().mean()) < 0.65
    words = E2().describe(g[:8])
    assert all(w.startswith("reflection") == bool(d < 0) for w, d in zip(words, det[:8],
                                                                         strict=True))


def test_so2_uniform(gen):
    a = SO2().sample(20000, generator=gen)
    assert float(a.min()) >= 0 and float(a.max()) < 2 * math.pi
    assert abs(float(torch.cos(a).mean())) < 0.02 and abs(float(torch.sin(a).mean())) < 0.02


def test_symmetric_uniform(gen):
    p = SymmetricGroup(3).sample(6000, generator=gen)
    counts = torch.bincount(SymmetricGroup(3).index(p), minlength=6).double() / 6000
    assert (counts - 1 / 6).abs().max() < 0.03


def test_get_group_and_errors():
    assert get_group("C4").order == 4
    assert get_group("S5").n == 5
    assert get_group("SO3").name == "SO(3)"
    with pytest.raises(ValueError, match="unknown group"):
        get_group("SU2")
    with pytest.raises(ValueError, match="positive int"):
        CyclicGroup(0)
    with pytest.raises(ValueError, match="no representation"):
        SO3().representation(SO3().identity(1), "regular")
    with pytest.raises(ValueError, match="too many to enumerate"):
        SymmetricGroup(9).elements()


def test_repeat_element_pairs_with_batches(gen):
    group = product(SO3(), SymmetricGroup(4))
    g = group.sample(2, generator=gen)
    r = repeat_element(g, 3)
    assert batch_size(r) == 6
    assert torch.equal(r[1][0], r[1][2]) and torch.equal(r[1][3], g[1][1])
