"""The cube group O, its actions on voxel grids, and every layer of the volume GIAE: each keeps
its declared symmetry in float64 under all 24 rotations of the cube on random inputs (≤ 1e-10;
the pose ≤ 1e-8), a broken layer fails the check, and bad volumes get clear errors."""

from __future__ import annotations

import pytest
import torch

from quotient.actions.volumes import (
    cube_rotate_volume,
    rotate_frame,
    rotate_vectors,
    rotate_volume,
)
from quotient.errors import DataError
from quotient.groups import SO3
from quotient.groups.cube import CubeRotations, cube_rotation_matrices
from quotient.models.volume_giae import volume_baseline, volume_giae
from quotient.nn import volumes as vol
from quotient.nn.pose_so3 import SO3VolumePose, cube_split
from quotient.nn.volume_encoder import CubeEncoder
from quotient.symmetry import Symmetry
from quotient.testing import assert_equivariant, check_module
from quotient.train import seeded

TOL = 1e-10
O = CubeRotations()


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _check(module: torch.nn.Module, x: torch.Tensor, tol: float = TOL) -> float:
    report = check_module(module.double().eval(), x)
    assert len(report.errors) == 24  # every element of O was tested
    assert report.error <= tol, report.error
    return report.error


# --- the group and its actions ---------------------------------------------------------------


def test_the_cube_group_has_24_proper_rotations_closed_under_products():
    g = O.elements()
    assert g.shape == (24, 3, 3) and torch.equal(g[0], torch.eye(3, dtype=torch.float64))
    assert torch.allclose(torch.linalg.det(g), torch.ones(24, dtype=torch.float64))
    assert torch.equal(g @ g.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(24, 3, 3))
    table = O.cayley_table()
    assert all(sorted(row) == list(range(24)) for row in table.tolist())  # a Latin square
    assert len({tuple(m.flatten().tolist()) for m in g}) == 24
    with pytest.raises(ValueError, match="not rotations of the cube"):
        O.index(SO3().sample(1, generator=torch.Generator().manual_seed(0)))


def test_cube_rotations_permute_voxels_exactly_and_compose():
    x = _x(5, 2, 6, 6, 6)
    g = O.elements()[torch.tensor([3, 7, 11, 19, 23])]
    h = O.elements()[torch.tensor([5, 2, 17, 1, 8])]
    once = cube_rotate_volume(g, x)
    assert torch.equal(once.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    assert torch.equal(cube_rotate_volume(g, cube_rotate_volume(h, x)),
                       cube_rotate_volume(g @ h, x))


def test_trilinear_rotation_agrees_with_the_exact_one_on_the_cube():
    x = _x(24, 1, 8, 8, 8)
    assert (rotate_volume(O.elements(), x) - cube_rotate_volume(O.elements(), x)).abs().max() \
        < 1e-12


def test_a_quarter_turn_about_z_takes_x_to_y():
    v = torch.zeros(1, 1, 5, 5, 5, dtype=torch.float64)
    v[0, 0, 4, 2, 2] = 1.0  # the voxel at p = (2, 0, 0)
    turn = torch.tensor([[[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]], dtype=torch.float64)
    for act in (cube_rotate_volume, rotate_volume):
        assert act(turn, v).nonzero().tolist() == [[0, 0, 2, 4, 2]]  # p = (0, 2, 0)


# --- every layer, under all 24 rotations in float64 ------------------------------------------


@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 4)])
def test_lift_conv(stride, kernel):
    with seeded(0):
        _check(vol.CubeLiftConv3d(2, 3, kernel, stride=stride), _x(2, 2, 8, 8, 8))


@pytest.mark.parametrize("kernel", [1, 3])
def test_group_conv(kernel):
    with seeded(0):
        _check(vol.CubeGroupConv3d(2, 3, kernel), _x(2, 2, 24, 6, 6, 6))


@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 4)])
def test_spatial_group_conv(stride, kernel):
    with seeded(0):
        _check(vol.CubeSpatialConv3d(2, 3, kernel, stride=stride), _x(2, 2, 24, 8, 8, 8))


def test_field_norm_and_pooling():
    sym = Symmetry(O, vol.cube_regular_field, output=vol.cube_regular_field)
    norm = vol.FieldNorm(2).double()
    with torch.no_grad():
        norm.norm.running_mean.copy_(torch.tensor([0.3, -0.2]))
        norm.norm.weight.copy_(torch.tensor([1.5, 0.7]))
    norm.symmetry = sym
    _check(norm, _x(2, 2, 24, 4, 4, 4))
    f = _x(2, 2, 24, 8, 8, 8)
    assert assert_equivariant(vol.cube_avg_pool, O, vol.cube_regular_field,
                              vol.cube_regular_field, f).error <= TOL
    with pytest.raises(ValueError, match="even grid"):
        vol.cube_avg_pool(_x(1, 1, 5, 5, 5))


def test_the_regular_field_action_is_an_action():
    f = _x(3, 2, 24, 4, 4, 4)
    g, h = O.elements()[[4, 9, 22]], O.elements()[[13, 0, 6]]
    act = vol.cube_regular_field
    assert torch.equal(act(g, act(h, f)), act(g @ h, f))


def test_encoder_code_is_invariant_and_vectors_equivariant():
    with seeded(0):
        enc = CubeEncoder(1, 5, widths=(2, 3, 3), size=8, hidden=8)
    _check(enc, _x(3, 1, 8, 8, 8))


def test_pose_head_turns_with_its_vectors():
    head = SO3VolumePose()
    _check(head, _x(4, 2, 3), tol=1e-8)
    pose = head(_x(4, 2, 3))
    r = pose.element
    assert torch.allclose(r.transpose(1, 2) @ r, torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
    assert torch.allclose(torch.linalg.det(r), torch.ones(4, dtype=torch.float64))


def test_pose_on_the_cube_reconstructs_by_an_exact_permutation():
    c, residual = cube_split(O.elements())
    assert torch.equal(c, O.elements())
    assert torch.equal(residual, torch.eye(3, dtype=torch.float64).expand(24, 3, 3))
    r = SO3().sample(6, generator=torch.Generator().manual_seed(3))
    c, residual = cube_split(r)
    assert torch.allclose(c @ residual, r)
    # the residual is the nearest: no cube rotation is closer to r than c
    dist = (r[:, None] - O.elements()[None]).flatten(2).norm(dim=2)
    assert torch.allclose((r - c).flatten(1).norm(dim=1), dist.min(1).values)


def _asymmetric_solids() -> torch.Tensor:
    """Chiral cranks (and L-shapes) turned by generic rotations: no voxel grid of them is
    mapped onto itself by any of the 24."""
    from quotient.data.volumes import make_volumes

    data = make_volumes(4, size=8, seed=5, rotation="so3",
                        classes=("crank-right", "crank-left", "L-shape"))
    x = data.volumes.double()
    for i in range(24):  # none of them has a rotational symmetry of its own on the grid
        turned = cube_rotate_volume(O.elements()[i:i + 1].expand(4, 3, 3), x)
        assert i == 0 or ((turned - x).flatten(1).norm(dim=1) > 1e-3).all()
    return x


def test_the_whole_giae_keeps_its_symmetry_on_solids_without_symmetry():
    with seeded(0):
        model = volume_giae(size=8, latent_dim=4, widths=(2, 3, 3), decoder_widths=(4, 4),
                            hidden=8).double().eval()
    x = _asymmetric_solids()
    sym = model.symmetry
    z = assert_equivariant(model, O, sym.input, None, x, observe=lambda out: out.z)
    assert z.error <= TOL  # z invariant
    pose = assert_equivariant(model, O, sym.input, rotate_frame, x,
                              observe=lambda out: out.pose.element, tol=1e-8)
    assert pose.error <= 1e-8
    _check(model, x, tol=1e-8)  # z, pose and the reconstruction together


def test_a_filter_that_is_not_rotated_fails_the_check(monkeypatch):
    with seeded(0):
        layer = vol.CubeLiftConv3d(1, 2, 3).double().eval()
    x = _x(2, 1, 6, 6, 6)
    _check(layer, x)
    monkeypatch.setattr(vol, "rotated_filters",
                        lambda w: w[None].expand(24, *w.shape))  # 24 copies, none turned
    with pytest.raises(AssertionError, match="not equivariant under O"):
        check_module(layer, x)


def test_a_pose_from_an_unequivariant_vector_fails_the_check():
    with seeded(0):
        model = volume_giae(size=8, latent_dim=3, widths=(2, 2), decoder_widths=(4, 4),
                            hidden=8).double().eval()
    original = model.encoder.forward

    def leaky(x):  # adds a fixed direction: no longer turns with the input
        z, v = original(x)
        return z, v + torch.tensor([1.0, 0.0, 0.0], dtype=v.dtype)

    model.encoder.forward = leaky
    with pytest.raises(AssertionError, match="not equivariant"):
        check_module(model, _asymmetric_solids())


# --- clear errors for bad volumes ------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> CubeEncoder:
    with seeded(0):
        return CubeEncoder(1, 3, widths=(2, 2), size=8, hidden=4).eval()


@pytest.mark.parametrize("x,match", [
    (torch.zeros(2, 8, 8, 8), r"5-d tensor .*rank 4.*x\[:, None\]"),
    (torch.zeros(8, 8, 8), r"rank 3.*x\[None, None\]"),
    (torch.zeros(2, 1, 8, 8, 6), r"cubic .*8 × 8 × 6.*pad"),
    (torch.zeros(2, 1, 4, 4, 4), r"expects 8³ grids, got 4³.*interpolate"),
    (torch.zeros(2, 3, 8, 8, 8), r"expects 1 channel"),
    (torch.zeros(2, 1, 8, 8, 8, dtype=torch.int64), r"floating point.*x\.float\(\)"),
])
def test_bad_volumes_are_named_with_the_fix(encoder, x, match):
    with pytest.raises(DataError, match=match):
        encoder(x)


def test_nan_volumes_are_refused(encoder):
    x = torch.zeros(3, 1, 8, 8, 8)
    x[1, 0, 2, 3, 4] = float("nan")
    with pytest.raises(ValueError, match=r"1 voxel value\(s\) are NaN.*1 volume.*nan_to_num"):
        encoder(x)
    with pytest.raises(DataError, match="NaN"):
        volume_baseline(size=8, cnn_widths=(2, 2), decoder_widths=(2, 2))(x)


def test_bad_layer_settings_are_refused():
    with pytest.raises(ValueError, match="odd"):
        vol.CubeLiftConv3d(1, 2, 4)
    with pytest.raises(ValueError, match="even"):
        vol.CubeSpatialConv3d(1, 2, 3, stride=2)
    with pytest.raises(ValueError, match="divisible"):
        CubeEncoder(1, 3, widths=(2, 2, 2), size=10)
    with pytest.raises(ValueError, match="rotations of the cube"):
        cube_rotate_volume(SO3().sample(1), torch.zeros(1, 1, 4, 4, 4))
    with pytest.raises(ValueError, match="acts on O"):
        cube_rotate_volume.check_group(SO3())


def test_the_vector_and_frame_actions_match_the_matrices():
    g = cube_rotation_matrices()[[5, 9]]
    v = _x(2, 2, 3)
    assert torch.allclose(rotate_vectors(g, v)[:, 0], (g @ v[:, 0, :, None])[..., 0])
    assert torch.equal(rotate_frame(g, g.transpose(1, 2)), torch.eye(3, dtype=torch.float64)
                       .expand(2, 3, 3))
