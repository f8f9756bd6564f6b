"""EGNN and the point-cloud encoder: E(3)/SE(3) × S_n symmetry in float64, masking, errors,
and the whole point-cloud GIAE (invariant code, equivariant pose, exact hard permutations)."""

import pytest
import torch

from quotient.actions import act_molecule, rigid_motion_and_permute_points
from quotient.data.tetris import tetris_shapes
from quotient.groups import E3, SE3, SymmetricGroup, product, rotation_part
from quotient.groups.euclidean import translation_part
from quotient.models import GIAE
from quotient.nn.points import EGNN, PointCloudEncoder, check_points, split_point_input
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.pose_rigid import RigidPermutationPose
from quotient.nn.sets import SetDecoder
from quotient.testing import assert_equivariant, assert_invariant

N = 5
ACT = rigid_motion_and_permute_points


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
    (torch.zeros(2, 4, 2), r"\(batch, n_points, 3\)"),
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

def _blend_encoder(proper=True, width=0.1, second="axis_anchor"):
    return PointCloudEncoder(3, 4, hidden=16, z_hidden=32, proper=proper, frame_blend=width,
                             second_point=second).double().eval()


def _noisy_tetris(gen, b=64, noise=0.01):
    shapes = tetris_shapes()[torch.arange(b) % 8]
    return shapes + noise * torch.randn(b, 4, 3, generator=gen, dtype=torch.float64)


def _hard_choice(x, second):
    from quotient.nn.pose_rigid import anchor_candidates
    cand = anchor_candidates(x, second=second)
    return cand.points[cand.hard[0]].tolist()


def _across_tie(x0, direction, second):
    """Bisect ``x0 + s·direction`` (s in [−1, 1]) to where the single (argmax) choice of the
    anchor points flips; return the inputs 1e-7 on either side of that tie."""
    lo, hi = -1.0, 1.0
    c_lo = _hard_choice(x0 + lo * direction, second)
    while hi - lo > 1e-14:
        mid = 0.5 * (lo + hi)
        if _hard_choice(x0 + mid * direction, second) == c_lo:
            lo = mid
        else:
            hi = mid
    return x0 + (lo - 1e-7) * direction, x0 + (hi + 1e-7) * direction


def _tie_path(gen, second, which):
    """A generic cloud (no symmetry) and a move of one point along which the first anchor point
    (``which = 0``) or only the second one (``which = 1``) changes once."""
    while True:
        x0 = torch.randn(1, 4, 3, generator=gen, dtype=torch.float64)
        direction = torch.zeros_like(x0)
        direction[0, int(torch.randint(4, (1,), generator=gen))] = 0.3 * torch.randn(
            3, generator=gen, dtype=torch.float64)
        path = [_hard_choice(x0 + s * direction, second) for s in torch.linspace(-1, 1, 41)]
        flips = [k for k in range(40) if path[k] != path[k + 1]]
        u = x0[0] - x0[0].mean(0)
        axis = u[path[0][0]] / u[path[0][0]].norm()
        straight = float((u - (u @ axis)[:, None] * axis).norm(dim=1).max() / u.norm(dim=1).max())
        if (len(flips) == 1 and (path[0][0] != path[-1][0]) == (which == 0)
                and straight > 0.3):  # not near-collinear: the second point is blended too
            return x0, direction


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
