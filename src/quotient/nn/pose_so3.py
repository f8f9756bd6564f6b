"""ξ for rotations of volumes: two equivariant 3-vectors -> an SO(3) frame -> a turned volume.

``R = gram_schmidt(v₁, v₂)`` (:func:`~quotient.nn.pose_frames.gram_schmidt`, columns
``e₁ = v₁/|v₁|``, ``e₂ ⟂ e₁`` in the plane of ``v₁, v₂``, ``e₃ = e₁ × e₂``), so
``R(u·x) = R_u R(x)`` whenever ``v_k(u·x) = R_u v_k(x)``.

The reconstruction turns the canonical volume by ``R``. To be exact under the 24 rotations of
the cube, ``R`` is split as ``R = C · R_r`` with ``C`` the cube rotation nearest to ``R``
(largest ``tr(Cᵀ R)``) and the residual ``R_r = Cᵀ R`` (within 60° or so of the identity):
``x̂ = C·(R_r·x̂₀)``, the residual by trilinear resampling
(:data:`~quotient.actions.volumes.rotate_volume`, differentiable in ``R``), ``C`` by an exact
voxel permutation. Turning the input by a cube rotation ``U`` turns ``R`` into ``U R``, whose
nearest cube rotation is ``U C`` with the same residual, so ``x̂(U·x) = U·x̂(x)`` to rounding;
when ``R`` itself is one of the 24, ``R_r = I`` and the reconstruction is an exact permutation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..actions.volumes import cube_rotate_volume, rotate_frame, rotate_vectors, rotate_volume
from ..groups.cube import CubeRotations, cube_rotation_matrices
from ..symmetry import Symmetry
from .pose import Pose
from .pose_frames import gram_schmidt

__all__ = ["SO3VolumePose", "cube_split", "rotation_mismatch"]


def cube_split(rotation: Tensor) -> tuple[Tensor, Tensor]:
    """``R (B, 3, 3) -> (C, R_r)`` with ``C`` the nearest of the 24 cube rotations (largest
    ``tr(CᵀR)``, first in :func:`~quotient.groups.cube.cube_rotation_matrices` order on a
    tie) and ``R_r = CᵀR``, so ``R = C R_r``."""
    cubes = cube_rotation_matrices(rotation.dtype).to(rotation.device)
    score = torch.einsum("kij,bij->bk", cubes, rotation.detach())
    c = cubes[score.argmax(dim=1)]
    return c, c.transpose(1, 2) @ rotation


def rotation_mismatch(a: Tensor, b: Tensor) -> dict[str, Tensor]:
    """Per-sample ``‖R_a − R_b‖_F / √3`` (``rotation``, 0 for equal frames, about the angle in
    radians for small differences) and the angle of ``R_aᵀ R_b`` in degrees (``angle_deg``)."""
    a, b = a.double(), b.double()
    cos = ((a.transpose(1, 2) @ b).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    return {"rotation": (a - b).flatten(1).norm(dim=1) / 3 ** 0.5,
            "angle_deg": torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))}


class SO3VolumePose(nn.Module):
    """ξ: ``v (B, 2, 3) -> Pose(R (B, 3, 3), x̂ = C·(R_r·x̂₀))`` (see the module notes).

    ``Pose.element`` is the rotation matrix ``R``; ``Pose.invert`` turns an input back,
    ``R_rᵀ·(Cᵀ·x)``. No parameters: what is learned lives in the encoder."""

    symmetry = Symmetry(CubeRotations(), rotate_vectors, output=rotate_frame,
                        observe=lambda pose: pose.element,
                        note="exact under the 24 cube rotations of v: R ↦ U R",
                        measure=rotation_mismatch)

    def forward(self, v: Tensor) -> Pose:
        if v.dim() != 3 or v.shape[1:] != (2, 3):
            raise ValueError(f"SO3VolumePose: expected two 3-vectors per sample (batch, 2, 3), "
                             f"got {tuple(v.shape)}")
        rotation = gram_schmidt(v[:, 0], v[:, 1])
        c, residual = cube_split(rotation)

        def apply(canonical: Tensor) -> Tensor:
            return cube_rotate_volume(c, rotate_volume(residual, canonical))

        def invert(x: Tensor) -> Tensor:  # the exact part back first, then the residual
            return rotate_volume(residual.transpose(1, 2), cube_rotate_volume(c.transpose(1, 2),
                                                                              x))

        return Pose(rotation, apply, invert=invert)
