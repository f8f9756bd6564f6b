"""EGNN and the point-cloud encoder: E(3)/SE(3) × S_n symmetry in float64, masking, errors,
and the whole point-cloud GIAE (invariant code, equivariant pose, exact hard permutations);
the same for points in the plane, SE(2)/E(2) × S_n."""

import pytest
import torch

from quotient.actions import act_molecule
from quotient.actions import rigid_motion_and_permute_points as move_points
from quotient.data.tetris import tetris_shapes
from quotient.groups import E3, SE2, SE3, SymmetricGroup, product, rotation_part
from quotient.groups.euclidean import E2, translation_part
from quotient.models import GIAE
from quotient.nn.points import (
    EGNN,
    PointCloudEncoder,
    check_points,
    split_point_input,
)
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.pose_rigid import RigidPermutationPose
from quotient.nn.sets import SetDecoder
from quotient.testing import assert_equivariant, assert_invariant, check_module

N = 5
ACT = move_points


def _x(gen, b=6, n=N):
    return torch.randn(b, n, 3, generator=gen, dtype=torch.float64)


def _group(proper=True, n=N):
    return product(SE3(scale=5.0) if proper else E3(scale=5.0), SymmetricGroup(n))


def _perm_only(g, h):
    from quotient.actions import permute_set
    return permute_set(g[1], h)


def test_egnn_features_invariant_and_coordinates_equivariant(gen):
    net = EGNN(0, hidden=8, layers=2).double()
    x = _x(gen)
    assert_equivariant(lambda p: net(p)[0], _group(False), ACT, _perm_only, x, generator=gen)
    assert_equivariant(lambda p: net(p)[1], _group(False), ACT, ACT, x, generator=gen)


def test_egnn_never_sees_the_order_and_ignores_padding(gen):
    net = EGNN(0, hidden=8, layers=2).double()
    x = _x(gen, b=2, n=4)
    padded = torch.cat([x, 1e3 * _x(gen, b=2, n=2)], 1)
    mask = torch.tensor([True] * 4 + [False] * 2).expand(2, -1)
    h, y = net(x)
    hp, yp = net(padded, mask=mask)
    assert torch.allclose(h, hp[:, :4], atol=1e-12) and torch.allclose(y, yp[:, :4], atol=1e-12)


@pytest.mark.parametrize(("z_from", "egnn_layers"), [("sorted", 0), ("pooled", 2)])
@pytest.mark.parametrize("proper", [True, False])
def test_encoder_code_invariant_and_scores_equivariant(gen, z_from, egnn_layers, proper):
    enc = PointCloudEncoder(3, N, hidden=8, egnn_layers=egnn_layers, z_from=z_from,
                            z_hidden=16, proper=proper).double().eval()
    x = _x(gen)
    group = _group(proper)
    assert_invariant(lambda p: enc(p)[0], group, ACT, x, generator=gen)
    assert_equivariant(lambda p: enc(p)[1].scores, group, ACT, _perm_only, x, generator=gen)


def test_se3_code_separates_mirror_images_e3_code_does_not(gen):
    shapes = tetris_shapes()[:2]  # the chiral pair
    for proper, apart in ((True, True), (False, False)):
        enc = PointCloudEncoder(4, 4, hidden=8, z_hidden=16, proper=proper).double().eval()
        z = enc(shapes)[0]
        assert bool((z[0] - z[1]).abs().max() > 1e-6) == apart


def test_sorted_code_ignores_padded_values_pooled_code_ignores_padding(gen):
    x = _x(gen, b=3, n=4)
    garbage = torch.cat([x, 1e3 * _x(gen, b=3, n=2)], 1)
    zeros = torch.cat([x, torch.zeros(3, 2, 3, dtype=torch.float64)], 1)
    mask = torch.tensor([True] * 4 + [False] * 2).expand(3, -1)
    enc = PointCloudEncoder(3, 6, hidden=8, z_hidden=16, z_from="sorted").double().eval()
    assert torch.allclose(enc((garbage, mask))[0], enc((zeros, mask))[0], atol=1e-12)
    pooled = PointCloudEncoder(3, 6, hidden=8, egnn_layers=1, z_from="pooled").double().eval()
    assert torch.allclose(pooled((garbage, mask))[0], pooled(x)[0], atol=1e-12)
    sigma = SymmetricGroup(6).sample(3, generator=gen)
    from quotient.actions import permute_set
    shuffled = (permute_set(sigma, garbage), permute_set(sigma, mask))
    assert torch.allclose(pooled(shuffled)[0], pooled(x)[0], atol=1e-12)


def test_molecule_input_with_types(gen):
    pos = _x(gen, b=4, n=N)
    types = torch.randint(3, (4, N), generator=gen)
    types[:, -1] = -1  # one padded atom
    enc = PointCloudEncoder(3, N, n_types=3, hidden=8, egnn_layers=1, z_from="pooled",
                            proper=False).double().eval()
    assert_invariant(lambda m: enc(m)[0], _group(False), act_molecule, (pos, types),
                     generator=gen)
    with pytest.raises(ValueError, match="atom types"):
        enc(pos)


@pytest.mark.parametrize(("x", "message"), [
    (torch.zeros(2, 4, 4), r"\(batch, n_points, 3\)"),
    (torch.zeros(2, 4, 4), r"dimension d = 2 or 3\), got \(2, 4, 4\): points of dimension 4"),
    (torch.zeros(2, 4, 1), r"dimension d = 2 or 3\), got \(2, 4, 1\): points of dimension 1"),
    (torch.zeros(4, 3), r"\(batch, n_points, 3\)"),
    (torch.zeros(2, 0, 3), "empty"),
    (torch.tensor([[[0.0, 0.0, float("nan")], [1.0, 0.0, 0.0]]]), "NaN"),
    (torch.zeros(2, 4, 3, dtype=torch.long), "floating"),
])
def test_bad_coordinates_raise_clear_errors(x, message):
    with pytest.raises(ValueError, match=message):
        check_points(x)
    with pytest.raises(ValueError, match=message):
        PointCloudEncoder(2, 4)(x)


def test_bad_masks_and_sizes_raise():
    with pytest.raises(ValueError, match="no real point"):
        check_points(torch.zeros(2, 3, 3), torch.tensor([[1, 0, 0], [0, 0, 0]]).bool())
    with pytest.raises(ValueError, match="reads 4 points"):
        PointCloudEncoder(2, 4)(torch.zeros(1, 5, 3))
    with pytest.raises(ValueError, match="boolean mask or integer"):
        split_point_input((torch.zeros(1, 3, 3), torch.zeros(1, 3)))
    with pytest.raises(TypeError):
        split_point_input([torch.zeros(1, 3, 3)])


def _giae(proper=True, rotation="procrustes", n=N):
    enc = PointCloudEncoder(2, n, hidden=8, z_hidden=16, proper=proper,
                            perm=PermutationPose(mode="straight_through"))
    return GIAE(enc, RigidPermutationPose(rotation=rotation, proper=proper),
                SetDecoder(2, n, 3, hidden=16)).double()


def _assert_pose_equivariant(model, group, x, gen):
    """R(g·x) = R_g R(x) and t(g·x) = R_g t(x) + t_g for random rigid motions + permutations."""
    assert_equivariant(lambda p: rotation_part(model(p).pose.element[0]), group, ACT,
                       lambda g, r: rotation_part(g[0]).to(r.dtype) @ r, x, generator=gen)
    assert_equivariant(lambda p: translation_part(model(p).pose.element[0]), group, ACT,
                       lambda g, t: (rotation_part(g[0]).to(t.dtype) @ t[..., None])[..., 0]
                       + translation_part(g[0]).to(t.dtype), x, generator=gen)


@pytest.mark.parametrize("rotation", ["frame", "procrustes"])
def test_giae_code_invariant_pose_equivariant_float64(gen, rotation):
    model = _giae(rotation=rotation).eval()
    x = _x(gen)
    group = _group()
    assert_invariant(lambda p: model(p).z, group, ACT, x, generator=gen)
    _assert_pose_equivariant(model, group, x, gen)
    assert_equivariant(lambda p: model(p).reconstruction, group, ACT, ACT, x, generator=gen)


def test_giae_hard_permutation_recovers_the_input_order(gen):
    model = _giae().eval()
    x = _x(gen, b=16)
    sn = SymmetricGroup(N)
    sigma = sn.sample(16, generator=gen)
    from quotient.actions import permute_set
    out, out_s = model(x), model(permute_set(sigma, x))
    assert torch.equal(out_s.pose.element[1], sn.compose(sigma, out.pose.element[1]))
    # the canonical (sorted) point clouds agree exactly
    order, order_s = out.pose.element[1], out_s.pose.element[1]
    canon = x.gather(1, order[..., None].expand(-1, -1, 3))
    canon_s = permute_set(sigma, x).gather(1, order_s[..., None].expand(-1, -1, 3))
    assert torch.equal(canon, canon_s)


def test_giae_float32_invariance(gen):
    model = _giae().float().eval()
    x = _x(gen).float()
    rep = assert_invariant(lambda p: model(p).z, _group(), ACT, x, generator=gen)
    assert rep.dtype == torch.float32


def test_tiny_point_cloud_giae_learns(gen):
    model = _giae(n=4).float()
    shapes = tetris_shapes(dtype=torch.float32)
    g = product(SE3(scale=2.0), SymmetricGroup(4)).sample(64, generator=gen, dtype=torch.float32)
    x = ACT(g, shapes[torch.arange(64) % 8]).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.loss(x)[0].item()
    for _ in range(20):
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(x)[1]["rec"] < 0.5 * first


def test_egnn_gradients_are_finite_with_padding_and_coordinate_updates(gen):
    net = EGNN(0, hidden=8, layers=3)
    x = torch.randn(2, 5, 3, generator=gen)
    x[:, 3:] = 0.0  # padded points coincide
    mask = torch.tensor([True, True, True, False, False]).expand(2, -1)
    h, y = net(x, mask=mask)
    (h.sum() + y.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


# --- continuity at anchor ties: the code blended over the candidate frames -------------------

def _blend_encoder(proper=True, width=0.1, second="axis_anchor", dim=3):
    return PointCloudEncoder(3, 4, hidden=16, z_hidden=32, proper=proper, frame_blend=width,
                             second_point=second, dim=dim).double().eval()


def _noisy_tetris(gen, b=64, noise=0.01):
    shapes = tetris_shapes()[torch.arange(b) % 8]
    return shapes + noise * torch.randn(b, 4, 3, generator=gen, dtype=torch.float64)


def _hard_choice(x, second, proper=True):
    from quotient.nn.pose_rigid import anchor_candidates
    cand = anchor_candidates(x, second=second, proper=proper)
    return cand.points[cand.hard[0]].tolist()


def _across_tie(x0, direction, second, proper=True):
    """Bisect ``x0 + s·direction`` (s in [−1, 1]) to where the single (argmax) choice of the
    anchor points flips; return the inputs 1e-7 on either side of that tie."""
    lo, hi = -1.0, 1.0
    c_lo = _hard_choice(x0 + lo * direction, second, proper)
    while hi - lo > 1e-14:
        mid = 0.5 * (lo + hi)
        if _hard_choice(x0 + mid * direction, second, proper) == c_lo:
            lo = mid
        else:
            hi = mid
    return x0 + (lo - 1e-7) * direction, x0 + (hi + 1e-7) * direction


def _tie_path(gen, second, which, proper=True, dim=3):
    """A generic cloud (no symmetry) and a move of one point along which the first anchor point
    (``which = 0``) or only the second one (``which = 1``) changes once."""
    while True:
        x0 = torch.randn(1, 4, dim, generator=gen, dtype=torch.float64)
        direction = torch.zeros_like(x0)
        direction[0, int(torch.randint(4, (1,), generator=gen))] = 0.3 * torch.randn(
            dim, generator=gen, dtype=torch.float64)
        path = [_hard_choice(x0 + s * direction, second, proper)
                for s in torch.linspace(-1, 1, 41)]
        flips = [k for k in range(40) if path[k] != path[k + 1]]
        u = x0[0] - x0[0].mean(0)
        axis = u[path[0][0]] / u[path[0][0]].norm()
        straight = float((u - (u @ axis)[:, None] * axis).norm(dim=1).max() / u.norm(dim=1).max())
        # in the plane a new second point on the same side of the axis gives the same frame
        turns = dim == 3 or which == 0 or bool(
            torch.linalg.det(_hard_frame(x0 - direction, second, proper))
            != torch.linalg.det(_hard_frame(x0 + direction, second, proper)))
        if (len(flips) == 1 and (path[0][0] != path[-1][0]) == (which == 0)
                and straight > 0.3 and turns):  # not near-collinear: v₂ is blended too
            return x0, direction


def _hard_frame(x, second, proper):
    from quotient.nn.pose_rigid import anchor_candidates
    cand = anchor_candidates(x, second=second, proper=proper)
    return cand.rotation[cand.hard]


@pytest.mark.parametrize("second", ["axis", "axis_anchor"])
@pytest.mark.parametrize("which", [0, 1], ids=["v1-tie", "v2-tie"])
def test_blended_code_is_continuous_across_anchor_ties_hard_code_is_not(gen, second, which):
    x0, direction = _tie_path(gen, second, which)
    before, after = _across_tie(x0, direction, second)
    enc = _blend_encoder(second=second)
    with torch.no_grad():
        z = enc(torch.cat([before, after]))[0]
        enc.frame_blend = 0.0  # the single argmax frame (the previous behaviour)
        z_hard = enc(torch.cat([before, after]))[0]
    scale = float(z.norm(dim=1).mean())
    jump, jump_hard = float((z[0] - z[1]).norm()), float((z_hard[0] - z_hard[1]).norm())
    assert jump < 1e-5 * scale, (jump, scale)  # O(1e-7): continuous
    assert jump_hard > 5e-3 * scale, (jump_hard, scale)  # O(1): a jump


@pytest.mark.parametrize("proper", [True, False])
def test_blended_code_exactly_invariant_float64_near_ties(gen, proper):
    """Noisy Tetris shapes sit near the ties of their symmetric points (most of them blend
    several frames); the blended code is still invariant to 1e-10 in float64."""
    from quotient.nn.pose_rigid import anchor_candidates
    x = _noisy_tetris(gen, b=32)
    enc = _blend_encoder(proper=proper)
    assert len(anchor_candidates(x, width=0.1, second="axis_anchor").sample) > 2 * len(x)
    assert_invariant(lambda p: enc(p)[0], _group(proper, n=4), ACT, x, generator=gen,
                     n_elements=8)
    assert_invariant(lambda p: enc(p)[0], _group(proper, n=4), ACT, _x(gen, b=16, n=4),
                     generator=gen)


def test_blend_leaves_clear_codes_and_the_pose_unchanged(gen):
    """Away from ties the blended code equals the single frame's code exactly, and the pose
    (frame, centroid, order) is always the single frame's."""
    model = _giae(n=4).eval()
    model.encoder.second_point = "axis_anchor"
    x = torch.cat([_noisy_tetris(gen, b=16), _x(gen, b=16, n=4)])
    hard = model(x)
    model.encoder.frame_blend = 0.1
    blended = model(x)
    assert torch.equal(blended.pose.element[1], hard.pose.element[1])
    assert torch.equal(blended.pose.frame, hard.pose.frame)
    from quotient.nn.pose_rigid import anchor_candidates
    cand = anchor_candidates(x, width=0.1, second="axis_anchor")
    clear = torch.bincount(cand.sample, minlength=len(x)) == 1
    assert clear.any() and (~clear).any()
    assert torch.equal(blended.z[clear], hard.z[clear])
    assert not torch.equal(blended.z[~clear], hard.z[~clear])
    # the Procrustes rotation aligns the decoded canonical: it moves only with the code
    assert torch.equal(blended.pose.element[0][clear], hard.pose.element[0][clear])


@pytest.mark.parametrize("rotation", ["frame", "procrustes"])
def test_blended_giae_pose_equivariant_and_hard_permutation_float64(gen, rotation):
    model = _giae(rotation=rotation, n=4).eval()
    model.encoder.frame_blend, model.encoder.second_point = 0.1, "axis_anchor"
    x = _noisy_tetris(gen, b=24)
    group = _group(n=4)
    assert_invariant(lambda p: model(p).z, group, ACT, x, generator=gen)
    _assert_pose_equivariant(model, group, x, gen)
    sn = SymmetricGroup(4)
    sigma = sn.sample(len(x), generator=gen)
    from quotient.actions import permute_set
    out, out_s = model(x), model(permute_set(sigma, x))
    assert torch.equal(out_s.pose.element[1], sn.compose(sigma, out.pose.element[1]))


def test_blend_settings_are_checked():
    with pytest.raises(ValueError, match="frame_blend"):
        PointCloudEncoder(2, 4, frame_blend=1.0)
    with pytest.raises(ValueError, match="second_point"):
        PointCloudEncoder(2, 4, second_point="nearest")


# --- points in the plane: SE(2) × S_n and E(2) × S_n -------------------------------------------

# the seven tetrominoes on the unit grid: I, O, T, S, Z (S mirrored), L, J (L mirrored)
TETROMINOES_2D = torch.tensor([
    [[0, 0], [1, 0], [2, 0], [3, 0]], [[0, 0], [1, 0], [0, 1], [1, 1]],
    [[0, 0], [1, 0], [2, 0], [1, 1]], [[0, 0], [1, 0], [1, 1], [2, 1]],
    [[0, 1], [1, 1], [1, 0], [2, 0]], [[0, 0], [1, 0], [2, 0], [2, 1]],
    [[0, 0], [1, 0], [2, 0], [0, 1]]], dtype=torch.float64)
TOL = 1e-10


def _group2(proper=True, n=4):
    return product(SE2(scale=5.0) if proper else E2(scale=5.0), SymmetricGroup(n))


def _elements2(proper, n, gen, k=6):
    """k random elements; for E(2) the first half reflections and the rest rotations, so both
    components are always tested."""
    g = _group2(proper, n).sample(k, generator=gen)
    if not proper:
        rot = g[0][:, :2, :2]
        want = torch.tensor([-1.0] * (k // 2) + [1.0] * (k - k // 2), dtype=torch.float64)
        g[0][:, :2, 1] *= (torch.linalg.det(rot).sign() * want)[:, None]
    return g


def _noisy_tetrominoes2(gen, b=14, noise=0.01):
    shapes = TETROMINOES_2D[torch.arange(b) % 7]
    return shapes + noise * torch.randn(b, 4, 2, generator=gen, dtype=torch.float64)


def _planar_giae(proper=True, n=4, blend=0.1, rotation="procrustes"):
    enc = PointCloudEncoder(3, n, hidden=8, z_hidden=16, proper=proper, frame_blend=blend,
                            second_point="axis_anchor", dim=2,
                            perm=PermutationPose(mode="straight_through"))
    return GIAE(enc, RigidPermutationPose(rotation=rotation, proper=proper),
                SetDecoder(3, n, 2, hidden=16)).double().eval()


@pytest.mark.parametrize("data", ["random", "tetromino"])
@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_encoder_and_giae_keep_their_symmetry_float64(gen, proper, data):
    """check_module: z invariant, (R, t, order) and the reconstruction equivariant, at 1e-10,
    under SE(2) × S_4 (E(2) × S_4 with reflections for the improper model)."""
    x = _x(gen, b=14, n=4)[..., :2] if data == "random" else _noisy_tetrominoes2(gen)
    model = _planar_giae(proper)
    assert model.symmetry.group_for(x).name == f"{'SE' if proper else 'E'}(2) × S4"
    elements = _elements2(proper, 4, gen)
    for module in (model.encoder, model):
        assert check_module(module, x, elements=elements).error <= TOL
    frames = model(x).pose.element[0][:, :2, :2]
    det = torch.linalg.det(frames)
    assert torch.allclose(frames.transpose(1, 2) @ frames, torch.eye(2).double().expand_as(frames),
                          atol=1e-12)
    assert (det > 0).all() if proper else ((det < 0).any() and (det > 0).any())


def _padded2(gen, sizes=(3, 4, 5, 6, 4, 6, 3, 5), n=6, tetromino=False):
    """Clouds of several sizes padded to n slots with garbage (1e3 scale) at random slots."""
    b = len(sizes)
    real = _noisy_tetrominoes2(gen, b=b) if tetromino else None
    x = 1e3 * torch.randn(b, n, 2, generator=gen, dtype=torch.float64)
    mask = torch.zeros(b, n, dtype=torch.bool)
    for i, k in enumerate(sizes):
        slots = torch.randperm(n, generator=gen)[:k]
        mask[i, slots] = True
        x[i, slots] = real[i] if tetromino else torch.randn(k, 2, generator=gen,
                                                            dtype=torch.float64)
    return x, mask


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_code_invariant_and_pose_equivariant_with_padding_float64(gen, proper):
    """Masked clouds of 3–6 points (random, and noisy tetrominoes at 4 of 6 slots): z invariant
    and R, t equivariant at 1e-10; the order equivariant exactly on the real slots (padding is
    sorted last in input order, which a permutation reorders)."""
    model = _planar_giae(proper, n=6)
    group, act = _group2(proper, 6), move_points
    for tetromino in (False, True):
        x = _padded2(gen, sizes=(4,) * 8, tetromino=True) if tetromino else _padded2(gen)
        elements = _elements2(proper, 6, gen)
        assert_invariant(lambda p: model(p).z, group, act, x, elements=elements)
        assert_equivariant(lambda p: rotation_part(model(p).pose.element[0]), group, act,
                           lambda g, r: rotation_part(g[0]).to(r.dtype) @ r, x,
                           elements=elements)
        assert_equivariant(lambda p: translation_part(model(p).pose.element[0]), group, act,
                           lambda g, t: (rotation_part(g[0]).to(t.dtype) @ t[..., None])[..., 0]
                           + translation_part(g[0]).to(t.dtype), x, elements=elements)
        sn, real = SymmetricGroup(6), torch.arange(6)[None] < x[1].sum(1, keepdim=True)
        order = model(x).pose.element[1]
        for i in range(6):
            g = tuple(e[i:i + 1].expand(len(x[0]), *e.shape[1:]) for e in elements)
            moved = model(act(g, x)).pose.element[1]
            assert torch.equal(moved[real], sn.compose(g[1], order)[real])


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_padding_never_changes_the_code(gen, proper):
    x, mask = _padded2(gen)
    zeros = x.masked_fill(~mask[..., None], 0.0)
    model = _planar_giae(proper, n=6)
    assert torch.equal(model((x, mask)).z, model((zeros, mask)).z)
    pooled = PointCloudEncoder(3, 6, hidden=8, egnn_layers=1, z_from="pooled", proper=proper,
                               frame_blend=0.1, dim=2).double().eval()
    for i, k in enumerate(mask.sum(1).tolist()):  # each cloud alone, unpadded
        alone = x[i][mask[i]][None]
        assert torch.allclose(pooled((x[i:i + 1], mask[i:i + 1]))[0], pooled(alone)[0],
                              atol=1e-12, rtol=0)
        assert alone.shape[1] == k


@pytest.mark.parametrize("proper", [True, False], ids=["SE2", "E2"])
def test_planar_giae_float32_invariance(gen, proper):
    model = _planar_giae(proper).float()
    x = torch.cat([_x(gen, b=8, n=4)[..., :2], _noisy_tetrominoes2(gen)]).float()
    rep = assert_invariant(lambda p: model(p).z, _group2(proper), move_points, x,
                           elements=_elements2(proper, 4, gen))
    assert rep.dtype == torch.float32 and rep.error <= 1e-5


def test_se2_code_separates_mirror_images_e2_code_identifies_them(gen):
    """S/Z and L/J are mirror pairs of tetrominoes: SE(2) codes differ, also for noisy chiral
    pieces and their (shuffled, moved) mirror images; E(2) codes of every noisy piece and its
    mirror image agree to 1e-10. (Noisy I, O, T are chiral only by their noise.)"""
    shapes = TETROMINOES_2D[[3, 5]]
    mirrors = TETROMINOES_2D[[4, 6]]
    noisy = _noisy_tetrominoes2(gen)
    flip = torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    shuffle = torch.randperm(4, generator=gen)
    x = torch.cat([shapes, noisy])
    mirror = torch.cat([mirrors, (noisy @ flip)[:, shuffle] + 3.0])
    for proper in (True, False):
        enc = _planar_giae(proper).encoder
        z, zm = enc(x)[0], enc(mirror)[0]
        gap = (z - zm).norm(dim=1) / z.norm(dim=1)
        if proper:
            chiral = torch.cat([torch.ones(2), torch.arange(len(noisy)) % 7 >= 3]).bool()
            assert (gap[chiral] > 5e-3).all(), gap
        else:
            assert (gap <= TOL).all(), gap


@pytest.mark.parametrize(("proper", "which"), [(True, 0), (False, 0), (False, 1)],
                         ids=["SE2-v1-tie", "E2-v1-tie", "E2-v2-tie"])
def test_planar_blended_code_is_continuous_across_anchor_ties(gen, proper, which):
    """Moving a cloud by ±1e-7 across an exact tie of the farthest point (or, for E(2), of the
    point farthest from the axis, on opposite sides of it) moves the blended code by ~1e-7;
    the single-frame code jumps."""
    x0, direction = _tie_path(gen, "axis_anchor", which, proper=proper, dim=2)
    before, after = _across_tie(x0, direction, "axis_anchor", proper=proper)
    enc = _blend_encoder(proper=proper, dim=2)
    with torch.no_grad():
        z = enc(torch.cat([before, after]))[0]
        enc.frame_blend = 0.0
        z_hard = enc(torch.cat([before, after]))[0]
    scale = float(z.norm(dim=1).mean())
    jump, jump_hard = float((z[0] - z[1]).norm()), float((z_hard[0] - z_hard[1]).norm())
    assert jump < 1e-5 * scale, (jump, scale)
    assert jump_hard > 5e-3 * scale, (jump_hard, scale)


def test_planar_degenerate_clouds_give_finite_codes_and_rotations(gen):
    """All points at the centroid, and collinear clouds (u⊥ is still defined): no NaN, in the
    forward pass or the gradients; the pose is a rigid motion."""
    line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    x = torch.stack([torch.zeros(4, 2, dtype=torch.float64), torch.full((4, 2), 2.5).double(),
                     line, line @ torch.tensor([[0.6, 0.8], [-0.8, 0.6]]).double() + 1.0])
    for proper in (True, False):
        model = _planar_giae(proper).train()
        inp = x.clone().requires_grad_(True)
        out = model(inp)
        rot = out.pose.element[0][:, :2, :2]
        assert torch.isfinite(out.z).all() and torch.isfinite(out.pose.element[0]).all()
        assert torch.allclose(rot.transpose(1, 2) @ rot, torch.eye(2).double().expand_as(rot),
                              atol=1e-12)
        model.loss(inp)[0].backward()
        assert torch.isfinite(inp.grad).all()


@pytest.mark.parametrize("x", [torch.zeros(2, 4, 4), torch.zeros(2, 4, 1)],
                         ids=["d=4", "d=1"])
def test_points_of_other_dimensions_name_the_supported_ones(x):
    from quotient.nn.pose_rigid import anchor_candidates, anchor_frame
    for call in (check_points, PointCloudEncoder(2, 4, dim=2), anchor_frame, anchor_candidates):
        with pytest.raises(ValueError, match="d = 2 or 3"):
            call(x)
    with pytest.raises(ValueError, match="d = 2 or 3"):
        PointCloudEncoder(2, 4, dim=x.shape[-1])
    with pytest.raises(ValueError, match=r"reads points in 3 dimensions.*dim=2"):
        PointCloudEncoder(2, 4)(torch.zeros(1, 4, 2))


def test_egnn_coordinates_move_along_damped_differences_averaged_over_neighbours():
    """x_i' = x_i + Σ_j (x_i − x_j)/(|x_i − x_j| + 1)·φ_x(m_ij) / max(n − 1, 1), here with
    φ_x ≡ 1: two real points 3 apart (one neighbour each), then three on a line (two each);
    padding neither moves nor pulls."""
    from quotient.nn.points import EGNNLayer

    layer = EGNNLayer(4).double()
    with torch.no_grad():
        layer.coord[-1].weight.zero_()
        layer.coord[-1].bias.fill_(1.0)
    h = torch.zeros(1, 3, 4, dtype=torch.float64)
    x = torch.tensor([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [9.0, 9.0, 9.0]]], dtype=torch.float64)
    _, moved = layer(h, x, torch.tensor([[True, True, False]]))
    assert torch.allclose(moved, torch.tensor([[[-0.75, 0.0, 0.0], [3.75, 0.0, 0.0],
                                                [9.0, 9.0, 9.0]]], dtype=torch.float64),
                          rtol=0, atol=1e-12)
    x = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]]], dtype=torch.float64)
    _, moved = layer(h, x, torch.ones(1, 3, dtype=torch.bool))
    # point 0: (−1/2 − 3/4)/2; point 1: (1/2 − 2/3)/2; point 2: (3/4 + 2/3)/2
    expected = torch.tensor([-0.625, 1.0 - 1.0 / 12, 3.0 + 17.0 / 24], dtype=torch.float64)
    assert torch.allclose(moved[0, :, 0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("egnn_layers", [0, 1])
def test_atom_types_change_the_code_and_the_encoder_hands_its_permutation_pose_on(gen,
                                                                                  egnn_layers):
    pos = _x(gen, b=4)
    types = torch.randint(3, (4, N), generator=gen)
    other = (types + 1) % 3
    enc = PointCloudEncoder(3, N, n_types=3, hidden=8, egnn_layers=egnn_layers,
                            z_from="pooled").double().eval()
    z, feats = enc((pos, types))
    z_other, _ = enc((pos, other))
    assert float((z - z_other).detach().abs().max()) > 1e-6  # the code sees the atom types
    assert feats.perm is not None
    assert torch.equal(feats.perm.element, enc.perm(feats.scores, feats.mask).element)


def test_points_of_the_wrong_dimension_are_refused_word_for_word():
    """The message names the shape and the dimension, and suggests a transpose only when the
    input looks like (batch, d, n)."""
    head = ("points: coordinates must have shape (batch, n_points, 3) or (batch, n_points, 2) "
            "(points of dimension d = 2 or 3), got ")
    cases = [(torch.zeros(2, 3, 5), f"{head}(2, 3, 5): points of dimension 5; transpose "
                                    "(batch, d, n) inputs with x.transpose(1, 2)"),
             (torch.zeros(2, 4, 4), f"{head}(2, 4, 4): points of dimension 4")]
    for x, message in cases:
        with pytest.raises(ValueError) as info:
            check_points(x)
        assert str(info.value) == message
