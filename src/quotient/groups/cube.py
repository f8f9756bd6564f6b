"""The rotation group O of the cube: the 24 proper rotations that map a cubic grid onto itself.

Elements are ``(batch, 3, 3)`` signed permutation matrices with determinant +1 (float64 by
default), the same encoding as :class:`~quotient.groups.SO3`, so an element of O *is* a
rotation matrix and composes with any other rotation by a matrix product. Products of signed
permutation matrices are exact in floating point (every entry is a single ±1·±1 product plus
zeros), so :meth:`CubeRotations.compose` and :meth:`CubeRotations.inverse` are exact.

>>> O = CubeRotations()
>>> O.order, O.elements().shape
(24, torch.Size([24, 3, 3]))
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, FiniteGroup, _check_batch
from .so3 import _axis_angle

__all__ = ["CubeRotations", "cube_rotation_matrices"]


def cube_rotation_matrices(dtype: torch.dtype = DEFAULT_DTYPE) -> Tensor:
    """The 24 rotations of the cube as ``(24, 3, 3)`` signed permutation matrices, identity
    first, then in a fixed order (by permutation, then by signs)."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = torch.zeros(3, 3, dtype=torch.float64)
            for row, col in enumerate(perm):
                m[row, col] = signs[row]
            if torch.linalg.det(m) > 0:  # proper rotations only: reflections are not in O
                mats.append(m)
    return torch.stack(mats).to(dtype)


class CubeRotations(FiniteGroup):
    """O ≅ S_4, the 24 rotations of the cube (the grid-preserving subgroup of SO(3)).

    Representations: ``"standard"`` (the 3×3 matrix itself) and ``"regular"`` (24×24).
    Generators: the quarter turns about the first and the second axis."""

    name = "O"

    @property
    def order(self) -> int:
        return 24

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.eye(3, dtype=dtype, device=device).expand(batch, 3, 3).clone()

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        return cube_rotation_matrices(dtype).to(device)

    def generators(self) -> Tensor:
        quarter_x = torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=DEFAULT_DTYPE)
        quarter_y = torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=DEFAULT_DTYPE)
        return torch.stack([quarter_x, quarter_y])

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return g @ h

    def inverse(self, g: Tensor) -> Tensor:
        return g.transpose(-1, -2)

    def index(self, g: Tensor) -> Tensor:
        """Index of each element in :meth:`elements` order (nearest, so rounding is forgiven).

        Raises:
            ValueError: an element is not a rotation of the cube.
        """
        every = self.elements(dtype=torch.float64, device=g.device)
        d = (g.double()[:, None] - every[None]).flatten(2).norm(dim=2)
        best = d.argmin(dim=1)
        if (d.gather(1, best[:, None]) > 1e-6).any():
            raise ValueError("some elements are not rotations of the cube (signed permutation "
                             "matrices with determinant +1)")
        return best

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (g - h).flatten(1).norm(dim=1)

    def describe(self, g: Tensor) -> list[str]:
        return [_axis_angle(r) for r in g]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": 3, "regular": 24}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        if kind == "regular":
            return self.regular_representation(g)
        return g
