"""Gram–Schmidt, anchor frames, Procrustes and the SE(3)/E(3) × S_n pose head; the same in
the plane, SE(2)/E(2) × S_n."""

import pytest
import torch

from quotient.actions import rigid_motion_and_permute_points as move_points
from quotient.actions import rotate_points
from quotient.data.tetris import tetris_shapes
from quotient.groups import E3, O3, SE2, SE3, SO3, SymmetricGroup, product, rotation_part
from quotient.groups.euclidean import E2, homogeneous, translation_part
from quotient.models import GIAE
from quotient.nn.points import PointCloudEncoder
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.pose_rigid import (
    PointFeatures,
    RigidPermutationPose,
    anchor_candidates,
    anchor_frame,
    gram_schmidt,
    procrustes_rotation,
)
from quotient.testing import assert_equivariant, check_module

N = 6


def _rotate_frame(g, r):
    return rotation_part(g[0] if isinstance(g, tuple) else g).to(r.dtype) @ r


def _move_point(g, t):
    g = g[0] if isinstance(g, tuple) else g
    return (rotation_part(g).to(t.dtype) @ t[..., None])[..., 0] + translation_part(g).to(t.dtype)


def _left(g, r):
    return g.to(r.dtype) @ r


def test_gram_schmidt_is_a_rotation_and_equivariant(gen):
    v = torch.randn(8, 2, 3, generator=gen, dtype=torch.float64)
    r = gram_schmidt(v[:, 0], v[:, 1])
    eye = torch.eye(3, dtype=torch.float64).expand(8, 3, 3)
    assert torch.allclose(r.transpose(1, 2) @ r, eye, atol=1e-14)
    assert torch.allclose(torch.linalg.det(r), torch.ones(8, dtype=torch.float64))
    assert_equivariant(lambda w: gram_schmidt(w[:, 0], w[:, 1]), SO3(), rotate_points, _left,
                       v, generator=gen)


def test_proper_frames_are_not_reflection_equivariant_but_e3_frames_are(gen):
    pts = torch.randn(8, N, 3, generator=gen, dtype=torch.float64)
    pts = pts - pts.mean(1, keepdim=True)

    def frame(proper):
        return lambda x: gram_schmidt(x[:, 0], x[:, 1], proper=proper, points=x)

    assert_equivariant(frame(False), O3(), rotate_points, _left, pts, generator=gen)
    flip = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))[None]
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(frame(True), O3(), rotate_points, _left, pts, elements=flip)
    with pytest.raises(ValueError, match="handedness"):
        gram_schmidt(pts[:, 0], pts[:, 1], proper=False)


@pytest.mark.parametrize("proper", [True, False])
def test_anchor_frame_is_equivariant(gen, proper):
    group = product(SE3(scale=5.0) if proper else E3(scale=5.0), SymmetricGroup(N))
    x = torch.randn(6, N, 3, generator=gen, dtype=torch.float64)
    act = move_points
    assert_equivariant(lambda p: anchor_frame(p, proper=proper)[0], group, act, _rotate_frame,
                       x, generator=gen)
    assert_equivariant(lambda p: anchor_frame(p, proper=proper)[1], group, act, _move_point,
                       x, generator=gen)
    r, _ = anchor_frame(x, proper=proper)
    det = torch.linalg.det(r)
    assert torch.allclose(det.abs(), torch.ones_like(det))
    if proper:
        assert (det > 0).all()


def test_anchor_frame_ignores_padding(gen):
    x = torch.randn(3, 5, 3, generator=gen, dtype=torch.float64)
    padded = torch.cat([x, 1e4 * torch.randn(3, 2, 3, generator=gen, dtype=torch.float64)], 1)
    mask = torch.tensor([True] * 5 + [False] * 2).expand(3, -1)
    r, t = anchor_frame(x)
    rp, tp = anchor_frame(padded, mask)
    assert torch.allclose(r, rp, atol=1e-12) and torch.allclose(t, tp, atol=1e-12)


def test_chirality_se3_frames_keep_mirror_images_apart():
    """The two chiral Tetris pieces are mirror images: their E(3) frame coordinates agree as
    sets, their SE(3) frame coordinates do not."""
    shapes = tetris_shapes()[:2]

    def canonical_set(proper):
        r, t = anchor_frame(shapes, proper=proper)
        y = (shapes - t[:, None]) @ r
        keys = y[..., 0] * 100 + y[..., 1] * 10 + y[..., 2]
        return y.gather(1, keys.argsort(1)[..., None].expand(-1, -1, 3))

    e3 = canonical_set(False)
    assert torch.allclose(e3[0], e3[1], atol=1e-9)
    se3 = canonical_set(True)
    assert (se3[0] - se3[1]).abs().max() > 0.5


def test_procrustes_recovers_rotations_and_respects_handedness(gen):
    src = torch.randn(5, N, 3, generator=gen, dtype=torch.float64)
    src = src - src.mean(1, keepdim=True)
    rot = SO3().sample(5, generator=gen)
    assert torch.allclose(procrustes_rotation(src, src @ rot.transpose(1, 2)), rot, atol=1e-12)
    refl = O3().sample(5, generator=gen)
    refl = refl * torch.linalg.det(refl).sign()[:, None, None] * -1  # all improper
    target = src @ refl.transpose(1, 2)
    assert torch.allclose(procrustes_rotation(src, target, proper=False), refl, atol=1e-12)
    best_proper = procrustes_rotation(src, target, proper=True)
    assert torch.allclose(torch.linalg.det(best_proper), torch.ones(5, dtype=torch.float64))
    # equivariance in the target
    noisy = target + 0.1 * torch.randn(5, N, 3, generator=gen, dtype=torch.float64)
    assert_equivariant(lambda y: procrustes_rotation(src, y), SO3(), rotate_points, _left,
                       noisy, generator=gen)


def test_pose_element_matches_apply_and_the_group_action(gen):
    """apply(canonical) = element · (canonical centred), with the product group's action."""
    b = 4
    x = torch.randn(b, N, 3, generator=gen, dtype=torch.float64)
    r, t = anchor_frame(x)
    scores = torch.randn(b, N, generator=gen, dtype=torch.float64)
    head = RigidPermutationPose(PermutationPose(), rotation="frame").eval()
    feats = PointFeatures(r, t, scores, x - t[:, None], torch.ones(b, N, dtype=torch.bool))
    pose = head(feats)
    canonical = torch.randn(b, N, 3, generator=gen, dtype=torch.float64)
    centred = canonical - canonical.mean(1, keepdim=True)
    expected = move_points(pose.element, centred)
    assert torch.allclose(pose.apply(canonical), expected, atol=1e-12)
    assert pose.refine is None


def test_procrustes_refinement_reconstructs_posed_copies_exactly(gen):
    """If the input is a posed, shuffled copy of the canonical element, the refined pose
    reconstructs it to rounding, whatever the frame was."""
    b = 5
    canonical = torch.randn(b, N, 3, generator=gen, dtype=torch.float64)
    canonical = canonical - canonical.mean(1, keepdim=True)
    g = product(SE3(scale=5.0), SymmetricGroup(N)).sample(b, generator=gen)
    x = move_points(g, canonical)
    r, t = anchor_frame(x)
    # scores that sort x back into the canonical order: score_j = −σ⁻¹(j), minus its slot
    scores = -g[1].argsort(1).double()
    feats = PointFeatures(r, t, scores, x - t[:, None], torch.ones(b, N, dtype=torch.bool))
    head = RigidPermutationPose(PermutationPose(), rotation="procrustes").eval()
    pose = head(feats)
    assert pose.refine is not None
    refined = pose.refine(canonical)
    assert torch.allclose(refined.apply(canonical), x, atol=1e-10)
    assert torch.allclose(refined.element[0], g[0], atol=1e-10)
    assert torch.equal(refined.element[1], g[1])


def test_giae_forward_applies_the_refinement(gen):
    class Enc(torch.nn.Module):
        def forward(self, x):
            r, t = anchor_frame(x)
            s = (x - t[:, None]).norm(dim=-1)
            return x.new_zeros(x.shape[0], 1), PointFeatures(r, t, s, x - t[:, None],
                                                            torch.ones(x.shape[:2]).bool())

    fixed = torch.randn(1, N, 3, generator=gen, dtype=torch.float64)
    model = GIAE(Enc(), RigidPermutationPose(rotation="procrustes"),
                 lambda z: fixed.expand(z.shape[0], -1, -1)).eval()
    x = move_points(product(SE3(), SymmetricGroup(N)).sample(3, generator=gen),
                                        fixed.expand(3, -1, -1) - fixed.mean(1, keepdim=True))
    out = model(x)
    frame_only = model.pose_head(model.encoder(x)[1]).element[0]
    assert not torch.allclose(out.pose.element[0], frame_only)
    assert out.reconstruction.shape == x.shape


# --- candidate frames for blending codes across anchor ties ------------------------------------

def test_anchor_candidates_single_frame_is_the_anchor_frame(gen):
    x = torch.randn(16, N, 3, generator=gen, dtype=torch.float64)
    for width in (0.0, 0.2):
        cand = anchor_candidates(x, width=width)
        r, t = anchor_frame(x)
        assert torch.allclose(cand.rotation[cand.hard], r, atol=1e-12)
        assert torch.equal(cand.translation, t)
        sums = torch.zeros(16, dtype=torch.float64).index_add(0, cand.sample, cand.weight)
        assert torch.allclose(sums, torch.ones_like(sums), atol=1e-15)
        assert (cand.weight > 0).all() and (cand.sample.diff() >= 0).all()
    cand = anchor_candidates(x)  # width 0: one frame per cloud, weight exactly 1
    assert torch.equal(cand.sample, torch.arange(16)) and (cand.weight == 1).all()


def test_anchor_candidates_weights_at_ties_and_clear_margins():
    shapes = tetris_shapes()  # noise-free: exact ties between symmetric points
    names = ("chiral_1", "chiral_2", "square", "line", "corner", "L", "T", "zigzag")
    cand = anchor_candidates(shapes[[2, 4, 5, 6, 7]], width=0.1, second="axis_anchor")
    counts = torch.bincount(cand.sample).tolist()
    # square: 4 farthest corners x 2 adjacent corners; corner: 3 arms (the mirror tie of the
    # second point is broken by its handedness); L: no tie; T and zigzag: the two ends
    assert counts == [8, 3, 1, 2, 2], dict(zip(names, counts, strict=False))
    for k, n in enumerate(counts):
        assert torch.allclose(cand.weight[cand.sample == k],
                              torch.full((n,), 1.0 / n, dtype=torch.float64), atol=1e-12)
    # the axis-only key keeps the corner's mirror tie and the zigzag's accidental one
    axis = torch.bincount(anchor_candidates(shapes[[4, 7]], width=0.1).sample).tolist()
    assert axis == [6, 4]
    # a clear margin: one frame, weight exactly 1
    t = shapes[6].clone()
    t[0, 2] -= 0.3  # one end of the T clearly farthest
    cand = anchor_candidates(t[None], width=0.1, second="axis_anchor")
    assert cand.weight.tolist() == [1.0]


def test_anchor_candidates_handle_padding_and_collinear_clouds(gen):
    x = torch.randn(3, 5, 3, generator=gen, dtype=torch.float64)
    padded = torch.cat([x, 1e4 * torch.randn(3, 2, 3, generator=gen, dtype=torch.float64)], 1)
    mask = torch.tensor([True] * 5 + [False] * 2).expand(3, -1)
    for second in ("axis", "axis_anchor"):
        a = anchor_candidates(x, width=0.5, second=second)
        b = anchor_candidates(padded, mask, width=0.5, second=second)
        assert torch.equal(a.sample, b.sample)
        assert torch.allclose(a.weight, b.weight, atol=1e-12)
        assert torch.allclose(a.rotation, b.rotation, atol=1e-12)
    # a noisy line: its off-axis distances are noise, so the second point is not blended
    line = tetris_shapes()[3] + 0.01 * torch.randn(4, 3, generator=gen, dtype=torch.float64)
    cand = anchor_candidates(line[None], width=0.5, second="axis_anchor")
    assert len(cand.sample) == 2  # the two ends, each with its single second point
    with pytest.raises(ValueError, match="width"):
        anchor_candidates(x, width=-0.1)


# --- frames in the plane: SE(2) and E(2) -------------------------------------------------------

TETROMINOES_2D = torch.tensor([  # I, O, T, S, Z (S mirrored), L, J (L mirrored)
    [[0, 0], [1, 0], [2, 0], [3, 0]], [[0, 0], [1, 0], [0, 1], [1, 1]],
    [[0, 0], [1, 0], [2, 0], [1, 1]], [[0, 0], [1, 0], [1, 1], [2, 1]],
    [[0, 1], [1, 1], [1, 0], [2, 0]], [[0, 0], [1, 0], [2, 0], [2, 1]],
    [[0, 0], [1, 0], [2, 0], [0, 1]]], dtype=torch.float64)
MIRROR = homogeneous(torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64))[None],
                     torch.zeros(1, 2, dtype=torch.float64))


def _plane_group(proper, n=N):
    return product(SE2(scale=5.0) if proper else E2(scale=5.0), SymmetricGroup(n))


def _plane_elements(proper, gen, n=N, k=6):
    """k random elements; for E(2) half of them reflections."""
    g = _plane_group(proper, n).sample(k, generator=gen)
    if not proper:
        want = torch.tensor([-1.0] * (k // 2) + [1.0] * (k - k // 2), dtype=torch.float64)
        g[0][:, :2, 1] *= (torch.linalg.det(g[0][:, :2, :2]).sign() * want)[:, None]
    return g


def _turned(e):
    return torch.stack([-e[..., 1], e[..., 0]], dim=-1)


def test_planar_gram_schmidt_frames(gen):
    """SE(2): [e₁, J e₁]; E(2): the second axis is the Gram–Schmidt direction of v₂ (its sign
    the side of the axis v₂ lies on); v₁ = 0 gives the identity, not NaN."""
    v = torch.randn(64, 2, 2, generator=gen, dtype=torch.float64)
    e1 = v[:, 0] / v[:, 0].norm(dim=1, keepdim=True)
    proper = gram_schmidt(v[:, 0], v[:, 1])
    assert torch.allclose(proper[:, :, 0], e1, atol=1e-15)
    assert torch.equal(proper[:, :, 1], _turned(proper[:, :, 0]))
    improper = gram_schmidt(v[:, 0], v[:, 1], proper=False)
    rest = v[:, 1] - (e1 * v[:, 1]).sum(1, keepdim=True) * e1
    assert torch.allclose(improper[:, :, 1], rest / rest.norm(dim=1, keepdim=True), atol=1e-12)
    det = torch.linalg.det(improper)
    assert torch.allclose(det, torch.linalg.det(v).sign(), atol=1e-14)  # χ = sign det[v₁, v₂]
    assert (det < 0).any() and (det > 0).any()
    zero = torch.zeros(2, 2, dtype=torch.float64)
    for p in (True, False):
        eye = torch.eye(2, dtype=torch.float64).expand(2, 2, 2)
        assert torch.equal(gram_schmidt(zero, zero, proper=p), eye)


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_anchor_frame_is_equivariant(gen, proper):
    x = torch.randn(8, N, 2, generator=gen, dtype=torch.float64)
    group, elements = _plane_group(proper), _plane_elements(proper, gen)
    assert_equivariant(lambda p: anchor_frame(p, proper=proper)[0], group, move_points,
                       _rotate_frame, x, elements=elements)
    assert_equivariant(lambda p: anchor_frame(p, proper=proper)[1], group, move_points,
                       _move_point, x, elements=elements)
    r, _ = anchor_frame(x, proper=proper)
    assert torch.allclose(r.transpose(1, 2) @ r, torch.eye(2).double().expand(8, 2, 2),
                          atol=1e-14)
    det = torch.linalg.det(r)
    assert (det > 0).all() if proper else ((det < 0).any() and (det > 0).any())


def test_se2_frames_are_not_reflection_equivariant_e2_frames_are(gen):
    x = torch.randn(8, N, 2, generator=gen, dtype=torch.float64)
    flip = (MIRROR, torch.arange(N)[None])
    group = _plane_group(False)
    assert_equivariant(lambda p: anchor_frame(p, proper=False)[0], group, move_points,
                       _rotate_frame, x, elements=flip)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda p: anchor_frame(p)[0], group, move_points, _rotate_frame, x,
                           elements=flip)


def test_planar_anchor_candidates_single_frame_and_ties(gen):
    x = torch.randn(16, N, 2, generator=gen, dtype=torch.float64)
    for proper in (True, False):
        for width in (0.0, 0.2):
            cand = anchor_candidates(x, proper=proper, width=width, second="axis_anchor")
            hard = anchor_candidates(x, proper=proper, width=width)
            assert torch.allclose(hard.rotation[hard.hard], anchor_frame(x, proper=proper)[0],
                                  atol=1e-15)
            sums = torch.zeros(16, dtype=torch.float64).index_add(0, cand.sample, cand.weight)
            assert torch.allclose(sums, torch.ones_like(sums), atol=1e-15)
            if proper:  # no second point: one frame per anchor
                assert torch.equal(cand.points[:, 0], cand.points[:, 1])
    # noise-free tetrominoes: exact ties between symmetric points, shared equally; SE(2) keeps
    # only ties that a rotation relates (the ends of I, S, Z; the corners of O): T's two ends
    # are mirror images, and the handed anchor key picks one of them
    names = ("I", "O", "T", "S", "Z", "L", "J")
    for proper, want in ((True, [2, 4, 1, 2, 2, 1, 1]), (False, [8, 8, 2, 2, 2, 1, 1])):
        cand = anchor_candidates(TETROMINOES_2D, proper=proper, width=0.1, second="axis_anchor")
        counts = torch.bincount(cand.sample).tolist()
        assert counts == want, dict(zip(names, counts, strict=True))
        for k, n in enumerate(counts):
            assert torch.allclose(cand.weight[cand.sample == k],
                                  torch.full((n,), 1.0 / n, dtype=torch.float64), atol=1e-12)


def test_planar_degenerate_clouds_give_rotations_not_nan():
    """All points at the centroid: the identity frame; a line: e₂ ⊥ the line (SE(2): J e₁)."""
    line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    turn = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=torch.float64)
    x = torch.stack([torch.zeros(4, 2, dtype=torch.float64), torch.full((4, 2), 2.5).double(),
                     line, line @ turn.T + 1.0])
    for proper in (True, False):
        for width in (0.0, 0.1):
            for second in ("axis", "axis_anchor"):
                cand = anchor_candidates(x, proper=proper, width=width, second=second)
                r = cand.rotation
                assert torch.isfinite(r).all() and torch.isfinite(cand.weight).all()
                assert torch.allclose(r.transpose(1, 2) @ r,
                                      torch.eye(2).double().expand_as(r), atol=1e-14)
        r, t = anchor_frame(x, proper=proper)
        assert torch.equal(r[:2], torch.eye(2).double().expand(2, 2, 2))
        assert torch.allclose(r[3, :, 0].abs(), turn[:, 0], atol=1e-15)  # along the line
        if proper:
            assert torch.equal(r[:, :, 1], _turned(r[:, :, 0]))


@pytest.mark.parametrize("proper", [True, False], ids=["SO2", "O2"])
def test_planar_procrustes_recovers_rotations_and_is_equivariant(gen, proper):
    src = torch.randn(6, N, 2, generator=gen, dtype=torch.float64)
    src = src - src.mean(1, keepdim=True)
    q = rotation_part(_plane_elements(proper, gen)[0])
    assert torch.allclose(procrustes_rotation(src, src @ q.transpose(1, 2), proper=proper), q,
                          atol=1e-12)
    noisy = src + 0.1 * torch.randn(6, N, 2, generator=gen, dtype=torch.float64)
    moved = procrustes_rotation(src, noisy @ q.transpose(1, 2), proper=proper)
    assert torch.allclose(moved, q @ procrustes_rotation(src, noisy, proper=proper), atol=1e-12)
    if proper:  # a reflected target: the best proper rotation
        det = torch.linalg.det(procrustes_rotation(src, src * torch.tensor([1.0, -1.0])))
        assert torch.allclose(det, torch.ones(6, dtype=torch.float64))


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_procrustes_refinement_reconstructs_posed_copies_exactly(gen, proper):
    b = 6
    canonical = torch.randn(b, N, 2, generator=gen, dtype=torch.float64)
    canonical = canonical - canonical.mean(1, keepdim=True)
    g = _plane_elements(proper, gen, k=b)
    x = move_points(g, canonical)
    r, t = anchor_frame(x, proper=proper)
    scores = -g[1].argsort(1).double()
    feats = PointFeatures(r, t, scores, x - t[:, None], torch.ones(b, N, dtype=torch.bool))
    pose = RigidPermutationPose(PermutationPose(), proper=proper).eval()(feats)
    assert pose.element[0].shape == (b, 3, 3)
    refined = pose.refine(canonical)
    assert torch.allclose(refined.apply(canonical), x, atol=1e-10)
    assert torch.allclose(refined.element[0], g[0], atol=1e-10)
    assert torch.equal(refined.element[1], g[1])


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_pose_head_keeps_its_symmetry(gen, proper):
    torch.manual_seed(0)
    enc = PointCloudEncoder(3, N, hidden=8, z_hidden=8, proper=proper, dim=2).double().eval()
    feats = enc(torch.randn(6, N, 2, generator=gen, dtype=torch.float64))[1]
    for rotation in ("frame", "procrustes"):
        head = RigidPermutationPose(rotation=rotation, proper=proper).double().eval()
        assert check_module(head, feats, elements=_plane_elements(proper, gen)).error <= 1e-10


def test_rigid_pose_inverts_positions_and_parts_keeps_features_and_its_mask(gen):
    """invert(x) = S·Rᵀ(x − t) on real rows, for positions alone or (positions, parts) with the
    parts sorted along; apply turns the coordinates and carries extra feature columns with
    their rows; the pose keeps the features' mask; a decoded cloud with too few columns is
    refused by name."""
    b = 3
    f64 = torch.float64
    x = torch.randn(b, N, 3, generator=gen, dtype=f64) * 2 + 1
    mask = torch.ones(b, N, dtype=torch.bool)
    mask[0, -1] = False
    r = SO3().sample(b, generator=gen)
    t = torch.randn(b, 3, generator=gen, dtype=f64)
    scores = torch.randn(b, N, generator=gen, dtype=f64)
    feats = PointFeatures(r, t, scores, x - t[:, None], mask)
    pose = RigidPermutationPose(PermutationPose(), rotation="frame").eval()(feats)
    assert torch.equal(pose.mask, mask)
    order = pose.element[1]
    local = ((x - t[:, None]) @ r) * mask[..., None].to(f64)
    by_order = torch.gather(local, 1, order[..., None].expand(-1, -1, 3))
    assert torch.allclose(pose.invert(x), by_order, rtol=0, atol=1e-12)
    types = torch.randint(0, 4, (b, N), generator=gen)
    pos, kinds = pose.invert((x, types))
    assert torch.allclose(pos, by_order, rtol=0, atol=1e-12)
    assert torch.equal(kinds, torch.gather(types, 1, order))
    canonical = torch.randn(b, N, 5, generator=gen, dtype=f64)  # 3 coordinates + 2 features
    out = pose.apply(canonical)
    assert out.shape == (b, N, 5)
    assert torch.allclose(torch.gather(out[..., 3:], 1, order[..., None].expand(-1, -1, 2)),
                          canonical[..., 3:], rtol=0, atol=1e-12)
    assert torch.allclose(out[..., :3], pose.apply(canonical[..., :3]), rtol=0, atol=1e-12)
    with pytest.raises(ValueError) as info:
        pose.apply(torch.zeros(b, N, 2, dtype=f64))
    assert str(info.value) == ("the decoded canonical point cloud must have shape (batch, n, "
                               f"3 + f), got torch.Size([{b}, {N}, 2])")


def test_moving_point_features_without_a_permutation_pose_keeps_none(gen):
    from quotient.nn.pose_rigid import point_features_action

    b = 2
    x = torch.randn(b, N, 3, generator=gen, dtype=torch.float64)
    r, t = anchor_frame(x)
    feats = PointFeatures(r, t, torch.randn(b, N, generator=gen, dtype=torch.float64),
                          x - t[:, None], torch.ones(b, N, dtype=torch.bool))
    g = product(SE3(), SymmetricGroup(N)).sample(b, generator=gen)
    moved = point_features_action(g, feats)
    assert moved.perm is None
    assert torch.allclose(moved.rotation, rotation_part(g[0]) @ r, rtol=0, atol=1e-12)
    assert torch.allclose(moved.translation, _move_point(g, t), rtol=0, atol=1e-12)


def test_e3_anchor_frames_ignore_padding_on_either_side(gen):
    """The handedness of an E(3) frame reads the real points only: a padded point far along
    ±e₃ of the real cloud's frame changes nothing."""
    x = torch.randn(4, 5, 3, generator=gen, dtype=torch.float64)
    r, t = anchor_frame(x, proper=False)
    mask = torch.tensor([True] * 5 + [False]).expand(4, -1)
    for side in (1.0, -1.0):
        far = t + side * 1e3 * r[:, :, 2]
        rp, tp = anchor_frame(torch.cat([x, far[:, None]], 1), mask, proper=False)
        assert torch.allclose(rp, r, rtol=0, atol=1e-12) and torch.allclose(tp, t, atol=1e-12)


def test_anchor_candidates_honour_the_priority_like_the_anchor_frame(gen):
    x = torch.randn(8, N, 3, generator=gen, dtype=torch.float64)
    r2 = ((x - x.mean(1, keepdim=True)) ** 2).sum(-1)
    priority = torch.zeros(8, N, dtype=torch.float64)
    priority[:, 0] = r2.max(1).values  # point 0 wins the anchor on priority
    cand = anchor_candidates(x, priority=priority)
    r, _ = anchor_frame(x, priority=priority)
    assert torch.allclose(cand.rotation[cand.hard], r, rtol=0, atol=1e-12)
    u0 = x[:, 0] - x.mean(1)
    assert torch.allclose(r[:, :, 0], u0 / u0.norm(dim=-1, keepdim=True), atol=1e-12)


def test_anchor_frames_do_not_depend_on_the_scale_of_the_cloud(gen):
    """The chirality key is a normalised pseudoscalar: shrinking a cloud 100-fold (below unit
    size) picks the same anchors and frames."""
    x = torch.randn(32, N, 3, generator=gen, dtype=torch.float64)
    big = anchor_candidates(x, second="axis_anchor")
    small = anchor_candidates(0.01 * x, second="axis_anchor")
    assert torch.allclose(small.rotation[small.hard], big.rotation[big.hard], rtol=0, atol=1e-9)
