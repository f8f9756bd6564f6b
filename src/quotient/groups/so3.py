"""SO(3) and O(3): rotations (and reflections) of space. Elements are ``(batch, 3, 3)`` matrices."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, Group, _check_batch, degrees


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Unit quaternions ``(batch, 4)`` (w, x, y, z) -> rotation matrices ``(batch, 3, 3)``."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def haar_rotations(batch: int, *, generator: torch.Generator | None = None,
                   dtype: torch.dtype = DEFAULT_DTYPE) -> Tensor:
    """Haar-uniform rotations: a normalised Gaussian 4-vector is a uniform unit quaternion."""
    q = torch.randn(batch, 4, generator=generator, dtype=torch.float64)
    return quaternion_to_matrix(q).to(dtype)


def so3_generators() -> Tensor:
    """The basis ``L_x, L_y, L_z`` of so(3), ``(L_i)_{jk} = −ε_{ijk}``, shape ``(3, 3, 3)``."""
    eps = torch.zeros(3, 3, 3, dtype=DEFAULT_DTYPE)
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[i, j, k], eps[i, k, j] = 1.0, -1.0
    return -eps


def _axis_angle(r: Tensor) -> str:
    """One 3×3 orthogonal matrix in words: a rotation about an axis, times -1 if improper."""
    r = r.double()
    det = float(torch.linalg.det(r))
    if det < 0:
        r = -r
    cos = max(-1.0, min(1.0, (float(r.trace()) - 1) / 2))
    angle = float(torch.tensor(cos).acos())
    axis = torch.stack([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if axis.norm() < 1e-9:  # 0 or π: the axis is an eigenvector of r + I
        w, v = torch.linalg.eigh((r + r.T) / 2)
        axis = v[:, -1]
    axis = axis / axis.norm().clamp_min(1e-300)
    turn = "identity" if angle < 1e-12 else (
        f"rotation by {degrees(angle)} about ({', '.join(f'{a:.3g}' for a in axis.tolist())})")
    return turn if det > 0 else f"{turn}, then point reflection"


class SO3(Group):
    """Proper rotations of ℝ³. Representations: ``"standard"`` (the matrix itself)."""

    name = "SO(3)"

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.eye(3, dtype=dtype, device=device).expand(batch, 3, 3).clone()

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        return haar_rotations(batch, generator=generator, dtype=dtype).to(device)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return g @ h

    def inverse(self, g: Tensor) -> Tensor:
        return g.transpose(-1, -2)

    def describe(self, g: Tensor) -> list[str]:
        return [_axis_angle(r) for r in g]

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (g - h).flatten(1).norm(dim=1)

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": 3}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        return g

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        if kind == "trivial":
            return torch.zeros(3, 1, 1, dtype=DEFAULT_DTYPE)
        self.rep_dim(kind)
        return so3_generators()


class O3(SO3):
    """Rotations and reflections of ℝ³. Representations: ``"standard"``, ``"det"`` (sign of det,
    1-d) and ``"pseudovector"`` (det(g)·g). Discrete generator: the inversion ``−I``."""

    name = "O(3)"

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        rot = haar_rotations(batch, generator=generator, dtype=dtype)
        sign = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
        return (rot * sign.to(dtype)[:, None, None]).to(device)

    def discrete_generators(self) -> Tensor:
        return -torch.eye(3, dtype=DEFAULT_DTYPE)[None]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": 3, "det": 1, "pseudovector": 3}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        det = torch.linalg.det(g).sign()
        if kind == "det":
            return det[:, None, None]
        if kind == "pseudovector":
            return g * det[:, None, None]
        return g

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        if kind == "det":
            return torch.zeros(3, 1, 1, dtype=DEFAULT_DTYPE)
        if kind == "pseudovector":
            return so3_generators()
        return super().lie_algebra(kind)
