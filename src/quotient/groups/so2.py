"""SO(2): rotations of the plane. Elements are angles in radians, shape ``(batch,)``."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, Group, _check_batch, degrees


def rotation_matrix_2d(angle: Tensor) -> Tensor:
    """``[[cos θ, −sin θ], [sin θ, cos θ]]`` for angles ``(batch,)`` -> ``(batch, 2, 2)``."""
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def wrap_angle(angle: Tensor) -> Tensor:
    """Map angles to ``[−π, π)``."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


class SO2(Group):
    """The rotation group of the plane, with its irreducible representations.

    Representations: ``"standard"`` (2×2 rotation by θ) and ``"freq{k}"`` for ``k = 1..max_freq``
    (rotation by kθ; ``freq1`` equals ``standard``).
    """

    name = "SO(2)"

    def __init__(self, max_freq: int = 4) -> None:
        self.max_freq = max_freq

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, dtype=dtype, device=device)

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        u = torch.rand(batch, generator=generator, dtype=torch.float64)
        return (2 * math.pi * u).to(dtype=dtype, device=device)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return torch.remainder(g + h, 2 * math.pi)

    def inverse(self, g: Tensor) -> Tensor:
        return torch.remainder(-g, 2 * math.pi)

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return wrap_angle(g - h).abs()

    def describe(self, g: Tensor) -> list[str]:
        return [f"rotation by {degrees(a)}" for a in wrap_angle(g.double()).reshape(-1).tolist()]

    @property
    def representations(self) -> dict[str, int]:
        reps = {"standard": 2}
        reps.update({f"freq{k}": 2 for k in range(1, self.max_freq + 1)})
        return reps

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        k = 1 if kind == "standard" else int(kind[4:])
        return rotation_matrix_2d(k * g)

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        if kind == "trivial":
            return torch.zeros(1, 1, 1, dtype=DEFAULT_DTYPE)
        k = 1 if kind == "standard" else int(kind[4:])
        return k * torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=DEFAULT_DTYPE)
