"""The earth mover's distance and the canonicalisation-consistency protocol built on it."""

import itertools

import numpy as np
import pytest
import torch

from quotient.metrics.canonical_emd import (
    canonical_emd,
    earth_movers_distance,
    random_rigid_copies,
)
from quotient.nn.pose_frames import anchor_candidates, gram_schmidt


def _brute_force(a, b):
    return min(np.linalg.norm(a - b[list(p)], axis=1).mean()
               for p in itertools.permutations(range(len(a))))


def test_emd_is_the_optimal_matching():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
        assert earth_movers_distance(a, b) == pytest.approx(_brute_force(a, b), abs=1e-12)
    a = rng.normal(size=(7, 3))
    assert earth_movers_distance(a, a[rng.permutation(7)]) == 0.0
    shifted = a + np.array([0.3, 0.0, 0.0])
    assert earth_movers_distance(a, shifted) == pytest.approx(0.3, abs=1e-12)


def test_emd_agrees_with_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    w = np.full(20, 1 / 20)
    assert earth_movers_distance(a, b) == pytest.approx(float(ot.emd2(w, w, cost)), abs=1e-12)


def test_typed_emd_matches_within_types():
    a = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    b = np.array([[1.0, 0, 0], [0.0, 0, 0]])
    assert earth_movers_distance(a, b) == 0.0
    # the same positions with the types swapped: each atom must travel 1
    assert earth_movers_distance(a, b, [6, 1], [6, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same types"):
        earth_movers_distance(a, b, [6, 1], [6, 6])
    with pytest.raises(ValueError, match="both clouds"):
        earth_movers_distance(a, b, [6, 1], None)
    with pytest.raises(ValueError, match="same shape"):
        earth_movers_distance(a, b[:1])


def _clouds(n=12, a=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, a, 3, generator=gen, dtype=torch.float64)
    sizes = torch.randint(4, a + 1, (n,), generator=gen)
    mask = torch.arange(a)[None, :] < sizes[:, None]
    types = torch.randint(0, 3, (n, a), generator=gen).masked_fill(~mask, -1)
    return pos * mask[..., None], types, mask


def test_random_rigid_copies_are_rigid_motions_and_relabellings():
    pos, types, mask = _clouds()
    copies = random_rigid_copies(pos, types, mask, 3, generator=torch.Generator().manual_seed(2))
    for row in range(pos.shape[0] * 3):
        i = row // 3
        order = copies.order[row]
        back = (copies.positions[row] - copies.translation[row]) @ copies.rotation[row]
        m = copies.mask[row]
        torch.testing.assert_close(back[m], pos[i][order][m], atol=1e-12, rtol=0)
        assert torch.equal(copies.types[row], types[i][order])
        assert torch.equal(m, mask[i][order])
        torch.testing.assert_close(copies.rotation[row] @ copies.rotation[row].T,
                                   torch.eye(3, dtype=torch.float64), atol=1e-12, rtol=0)


def _anchor(pos, types, mask):
    cand = anchor_candidates(pos, mask, proper=True, second="axis_anchor")
    rot = cand.rotation[cand.hard]
    return (pos - cand.translation[:, None]) @ rot * mask[..., None], types, mask


def test_an_equivariant_frame_is_consistent_and_the_identity_is_not():
    pos, types, mask = _clouds(seed=3)
    good = canonical_emd(_anchor, pos, types, mask, copies=4, seed=0, batch_size=5)
    assert good.emd.shape == (12, 4)
    assert good.mean() == pytest.approx(float(good.emd.mean()))
    assert good.emd.max() < 1e-10 and good.typed.max() < 1e-10
    # "canonicalising" by doing nothing: the copies sit wherever the motion put them
    bad = canonical_emd(lambda p, t, m: (p, t, m), pos, types, mask, copies=4, seed=0)
    assert bad.emd.min() > 0.1


def test_collinear_clouds_get_orthonormal_frames_and_consistent_forms():
    """Exactly collinear points (acetylene's QM9 geometry) leave nothing of v₂ off the axis:
    the frame must still be orthonormal, and every frame about the line gives one form."""
    line = torch.tensor([[[0.6, 0, 1], [-0.6, 0, 1], [-1.66, 0, 1], [1.66, 0, 1]]],
                        dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    v1 = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    for v2 in (3 * v1, v1 * (1 + 1e-17), torch.zeros_like(v1)):
        r = gram_schmidt(v1, v2)
        torch.testing.assert_close(r.transpose(1, 2) @ r, torch.eye(3, dtype=torch.float64)
                                   .expand(50, 3, 3), atol=1e-14, rtol=0)
        assert torch.allclose(torch.linalg.det(r), torch.ones(50, dtype=torch.float64))
    mask = torch.ones(1, 4, dtype=torch.bool)
    types = torch.tensor([[0, 0, 1, 1]])
    res = canonical_emd(_anchor, line, types, mask, copies=20, seed=1)
    assert res.emd.max() < 1e-12


def test_bad_arguments():
    pos, types, mask = _clouds()
    with pytest.raises(ValueError, match="copies and batch_size"):
        canonical_emd(_anchor, pos, types, mask, copies=0)
    with pytest.raises(ValueError, match=r"positions \(N, A, 3\)"):
        canonical_emd(_anchor, pos[..., :2], types, mask)


def test_canonical_form_is_invariant_rowwise_on_generic_clouds():
    """canonical_form(g·σ·x) = canonical_form(x)[σ] for rotations (and, with proper=False,
    reflections): the rows follow the points."""
    from quotient.nn.pose_frames import canonical_form

    gen = torch.Generator().manual_seed(4)
    x = torch.randn(20, 8, 3, generator=gen, dtype=torch.float64)
    for proper in (True, False):
        base = canonical_form(x, proper=proper)[0]
        r = torch.linalg.qr(torch.randn(20, 3, 3, generator=gen, dtype=torch.float64))[0]
        if proper:
            r = r * torch.linalg.det(r)[:, None, None]  # det +1
        perm = torch.stack([torch.randperm(8, generator=gen) for _ in range(20)])
        moved = x.gather(1, perm[..., None].expand(-1, -1, 3)) @ r.transpose(1, 2) + 2.0
        out, rot, _ = canonical_form(moved, proper=proper)
        torch.testing.assert_close(out, base.gather(1, perm[..., None].expand(-1, -1, 3)),
                                   atol=1e-10, rtol=0)
        torch.testing.assert_close(rot.transpose(1, 2) @ rot,
                                   torch.eye(3, dtype=torch.float64).expand(20, 3, 3),
                                   atol=1e-12, rtol=0)
    # an SE(3) canonical form keeps a cloud and its mirror image apart
    mirror = x * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    assert (canonical_form(mirror)[0] - canonical_form(x)[0]).abs().amax() > 0.1


def test_principal_axes_are_equivariant_only_where_defined():
    from quotient.nn.pose_frames import principal_axes_frame

    gen = torch.Generator().manual_seed(5)
    x = torch.randn(10, 9, 3, generator=gen, dtype=torch.float64) * torch.tensor(
        [3.0, 2.0, 1.0], dtype=torch.float64)
    r = torch.linalg.qr(torch.randn(10, 3, 3, generator=gen, dtype=torch.float64))[0]
    r = r * torch.linalg.det(r)[:, None, None]
    rot, t = principal_axes_frame(x)
    rot_moved, t_moved = principal_axes_frame(x @ r.transpose(1, 2))
    torch.testing.assert_close(rot_moved, r @ rot, atol=1e-9, rtol=0)
    torch.testing.assert_close(t_moved, (r @ t[..., None])[..., 0], atol=1e-12, rtol=0)
    # methane is a spherical top: its principal axes are rounding noise, and so is its form
    methane = torch.tensor([[[0, 0, 0], [1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]],
                           dtype=torch.float64) * 0.63

    def pca(p, t, m):
        rot, c = principal_axes_frame(p, m)
        return (p - c[:, None]) @ rot, t, m

    mask = torch.ones(1, 5, dtype=torch.bool)
    types = torch.tensor([[6, 1, 1, 1, 1]])
    assert canonical_emd(pca, methane, types, mask, copies=10, seed=0).emd.max() > 0.01
    assert canonical_emd(_anchor, methane, types, mask, copies=10, seed=0).emd.max() < 1e-12
    with pytest.raises(ValueError, match="d = 3"):
        principal_axes_frame(torch.zeros(1, 4, 2))
