"""Actions of rotations on volumes ``(batch, channels, n, n, n)`` and on 3-vectors.

Coordinates: voxel ``(i, j, k)`` (dims ``-3, -2, -1``) sits at the centred point
``p = (i, j, k) − (n − 1)/2``. A rotation ``R`` acts on a volume by ``(R·V)(p) = V(Rᵀp)``
(the content turns by ``R``), so ``(RS)·V = R·(S·V)``.

* :data:`cube_rotate_volume` — the 24 rotations of the cube (:class:`~quotient.groups.cube.
  CubeRotations`): ``Rᵀp`` is again a voxel centre, so the action is an exact permutation of
  voxels (an index gather; no arithmetic on the values).
* :data:`rotate_volume` — any rotation of SO(3), by trilinear resampling
  (:func:`torch.nn.functional.grid_sample` on 5-d tensors, zero padding): approximate, and
  equal to :data:`cube_rotate_volume` up to rounding for the 24 cube rotations.
* :data:`rotate_vectors` — ``v ↦ R v`` on ``(batch, 3)`` or ``(batch, k, 3)``;
  :data:`rotate_frame` — ``F ↦ R F`` on rotation matrices ``(batch, 3, 3)`` (how a pose moves).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._core import Action, check_batch, check_ndim

__all__ = ["cube_rotate_volume", "rotate_frame", "rotate_vectors", "rotate_volume",
           "voxel_coordinates"]


def voxel_coordinates(n: int, device: torch.device | str | None = None) -> Tensor:
    """Twice the centred coordinates of the voxels of an ``n³`` grid, ``(n³, 3)`` int64 in
    C order (``2p = 2·index − (n − 1)``: integers for odd and even ``n`` alike)."""
    two = 2 * torch.arange(n, device=device) - (n - 1)
    grid = torch.meshgrid(two, two, two, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grid], dim=-1)


def _check_volume(g: Tensor, x: Tensor, what: str) -> None:
    check_ndim(x, 5, "(batch, channels, n, n, n)", what)
    check_batch(g, x, what)
    if not x.shape[-1] == x.shape[-2] == x.shape[-3]:
        raise ValueError(f"{what}: rotations need cubic grids (n, n, n), got "
                         f"{tuple(x.shape[-3:])}; pad the volume to its largest side")
    if g.dim() != 3 or g.shape[1:] != (3, 3):
        raise ValueError(f"{what}: expected rotation matrices (batch, 3, 3), got "
                         f"{tuple(g.shape)}")


def _cube_rotate(g: Tensor, x: Tensor) -> Tensor:
    _check_volume(g, x, "cube_rotate_volume")
    b, c, n = x.shape[0], x.shape[1], x.shape[-1]
    exact = g.detach().double().to(x.device)
    mats = exact.round()
    if b and (mats - exact).abs().max() > 1e-6:
        raise ValueError("cube_rotate_volume: the elements are not rotations of the cube "
                         "(signed permutation matrices); use rotate_volume for other angles")
    two_p = voxel_coordinates(n, x.device)  # (n³, 3)
    # (R·V)(p) = V(Rᵀp): the source of p, as a row vector pᵀR
    src = (two_p[None].double() @ mats).round().long()  # (B, n³, 3), exact integers
    idx = (src + (n - 1)) // 2
    linear = (idx[..., 0] * n + idx[..., 1]) * n + idx[..., 2]  # (B, n³)
    flat = x.reshape(b, c, n ** 3)
    return flat.gather(2, linear[:, None, :].expand(b, c, n ** 3)).reshape(x.shape)


def _affine(g: Tensor, dtype: torch.dtype) -> Tensor:
    """``affine_grid`` parameters ``(B, 3, 4)`` that read the input at ``Rᵀp``: grid_sample's
    coordinates are ``(x, y, z) = (k, j, i)``, the reverse of ours, and with
    ``align_corners=False`` every axis of a cubic grid has the same scale ``2/n``."""
    rev = torch.tensor([2, 1, 0], device=g.device)
    rt = g.transpose(1, 2).to(dtype)[:, rev][:, :, rev]
    return torch.cat([rt, torch.zeros(g.shape[0], 3, 1, dtype=dtype, device=g.device)], dim=2)


def _rotate(g: Tensor, x: Tensor) -> Tensor:
    _check_volume(g, x, "rotate_volume")
    if not x.is_floating_point():
        raise TypeError(f"rotate_volume needs a floating-point volume, got {x.dtype}")
    theta = _affine(g.to(x.device), x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _rotate_vectors(g: Tensor, v: Tensor) -> Tensor:
    check_batch(g, v, "rotate_vectors")
    if v.shape[-1] != 3 or v.dim() not in (2, 3):
        raise ValueError(f"rotate_vectors: expected 3-vectors (batch, 3) or (batch, k, 3), got "
                         f"{tuple(v.shape)}")
    r = g.to(v.dtype)
    return (v @ r.transpose(1, 2)) if v.dim() == 3 else (r @ v[..., None])[..., 0]


def _rotate_frame(g: Tensor, frame: Tensor) -> Tensor:
    check_batch(g, frame, "rotate_frame")
    if frame.dim() != 3 or frame.shape[1:] != (3, 3):
        raise ValueError(f"rotate_frame: expected matrices (batch, 3, 3), got "
                         f"{tuple(frame.shape)}")
    return g.to(frame.dtype) @ frame


cube_rotate_volume = Action(
    "cube_rotate_volume", _cube_rotate, exact=True, groups=("O",),
    note="the 24 rotations of the cube as exact voxel permutations, (R·V)(p) = V(Rᵀp)")
"""The 24 rotations of the cube as exact voxel permutations of cubic grids."""

rotate_volume = Action(
    "rotate_volume", _rotate, exact=False, groups=("SO3", "O"),
    note="trilinear resampling (affine_grid + grid_sample on 5-d tensors, align_corners=False, "
         "zero padding); exact up to rounding for the 24 cube rotations")
"""Any rotation of a cubic grid by trilinear resampling (exact for the 24 of the cube)."""

rotate_vectors = Action("rotate_vectors", _rotate_vectors, exact=True, groups=("SO3", "O"),
                        note="v -> R v on (batch, 3) or (batch, k, 3)")
"""Rotations acting on 3-vectors, ``v ↦ R v``."""

rotate_frame = Action("rotate_frame", _rotate_frame, exact=True, groups=("SO3", "O"),
                      note="F -> R F on rotation matrices (batch, 3, 3): how a pose moves")
"""Rotations acting on frames (rotation matrices), ``F ↦ R F``: how a pose moves."""
