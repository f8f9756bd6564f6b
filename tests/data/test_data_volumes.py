"""The procedural solids: seeded, balanced, inside the grid, presented as promised, and the
chiral twins are mirror images that no rotation of the cube maps onto each other."""

from __future__ import annotations

import pytest
import torch

from quotient.actions.volumes import cube_rotate_volume, rotate_volume
from quotient.data import volumes as vd
from quotient.errors import ConfigError
from quotient.groups.cube import cube_rotation_matrices


def test_seeded_balanced_and_in_range():
    a = vd.make_volumes(48, size=8, seed=3)
    b = vd.make_volumes(48, size=8, seed=3)
    assert torch.equal(a.volumes, b.volumes) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.volumes, vd.make_volumes(48, size=8, seed=4).volumes)
    assert a.volumes.shape == (48, 1, 8, 8, 8) and a.volumes.dtype == torch.float32
    assert torch.bincount(a.labels, minlength=12).tolist() == [4] * 12
    assert a.volumes.min() >= 0 and a.volumes.max() <= 1
    assert (a.volumes.flatten(1).sum(1) > 1).all()  # nothing vanished


def test_at_least_ten_classes_and_a_chiral_pair():
    assert len(vd.SOLID_NAMES) >= 10
    assert all(a in vd.SOLID_NAMES and b in vd.SOLID_NAMES for a, b in vd.CHIRAL_PAIRS)


def test_every_solid_fits_in_the_ball_that_rotations_keep_inside():
    data = vd.make_volumes(120, size=16, seed=0, rotation="none")
    c = (torch.arange(16, dtype=torch.float32) + 0.5) / 8 - 1
    r = torch.stack(torch.meshgrid(c, c, c, indexing="ij"), -1).norm(dim=-1)
    outside = data.volumes[:, 0] * (r > vd.MAX_RADIUS + 2 / 16)  # half a voxel diagonal
    assert outside.max() == 0


def test_presentations():
    plain = vd.make_volumes(24, size=8, seed=1, rotation="none")
    cube = vd.make_volumes(24, size=8, seed=1, rotation="cube")
    so3 = vd.make_volumes(24, size=8, seed=1, rotation="so3")
    assert torch.equal(plain.rotations, torch.eye(3, dtype=torch.float64).expand(24, 3, 3))
    assert torch.equal(cube_rotate_volume(cube.rotations, plain.volumes), cube.volumes)
    again = rotate_volume(so3.rotations, plain.volumes).clamp(0, 1)
    assert torch.allclose(again, so3.volumes, atol=1e-6)
    det = torch.linalg.det(so3.rotations)
    assert torch.allclose(det, torch.ones_like(det))


def _twins(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A right and a left crank with the same parameters (the same generator state)."""
    vols = []
    for mirror in (False, True):
        inside, radius = vd._crank(torch.Generator().manual_seed(7), 6, mirror=mirror)
        vols.append(vd.voxelize(inside, radius, size))
    return vols[0], vols[1]


def test_the_chiral_twins_are_mirror_images():
    right, left = _twins()
    mirrored = right.flip(2)  # x ↦ −x
    assert (mirrored - left).abs().mean() < 1e-3  # equal up to sub-points on a boundary
    assert (right - left).abs().mean() > 0.02


def test_no_rotation_of_the_cube_maps_a_twin_onto_the_other():
    right, left = _twins()
    rots = cube_rotation_matrices()
    gaps = torch.stack([(cube_rotate_volume(rots[i:i + 1].expand(6, 3, 3), right) - left)
                        .flatten(1).norm(dim=1) / left.flatten(1).norm(dim=1)
                        for i in range(24)])  # (24, 6)
    assert gaps.min() > 0.3, gaps.min()
    # ... while a mirror image of itself is reached by a reflection, so the gap is the chirality
    assert ((right.flip(2) - left).flatten(1).norm(dim=1) / left.flatten(1).norm(dim=1)).max() \
        < 0.1


def test_the_code_of_a_twin_differs_from_that_of_its_mirror():
    from quotient.models.volume_giae import volume_giae
    from quotient.train import seeded

    with seeded(0):
        model = volume_giae(size=16, latent_dim=8).double().eval()
    right, left = _twins()
    with torch.no_grad():
        zr, zl = model.embed(right.double()), model.embed(left.double())
        turned = cube_rotate_volume(cube_rotation_matrices()[[7] * 6], right.double())
        zt = model.embed(turned)
    assert (zr - zt).norm(dim=1).max() < 1e-10 * zr.norm(dim=1).max()  # invariant under O
    assert ((zr - zl).norm(dim=1) > 1e-4 * zr.norm(dim=1)).all()  # but not under reflections


@pytest.mark.parametrize("kwargs,match", [
    ({"n": 0}, "n must be >= 1"),
    ({"n": 4, "size": 7}, "even"),
    ({"n": 4, "rotation": "so2"}, "rotation must be one of"),
    ({"n": 4, "classes": ("box", "sphere")}, r"unknown classes \['sphere'\]"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        vd.make_volumes(**kwargs)
