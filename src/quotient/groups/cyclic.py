"""Cyclic groups: C_n as rotations of the plane, and cyclic shifts of 1-d and 2-d grids.

Elements of C_n are integers ``k`` (``(batch,)``, int64) standing for rotation by ``2πk/n`` or a
shift by ``k`` cells. Shifts of an ``h × w`` grid are pairs ``(batch, 2)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, FiniteGroup, _check_batch, degrees
from .so2 import rotation_matrix_2d


class CyclicGroup(FiniteGroup):
    """C_n = ℤ/nℤ. Representations: ``"standard"`` (2×2 rotation by 2πk/n), ``"regular"`` and
    ``"permutation"``: C_n permuting the n vertices of the regular n-gon (vertex ``j`` at angle
    ``2πj/n`` goes to vertex ``j + k``; ``P[σ(j), j] = 1`` as for S_n). C_n acts simply
    transitively on the vertices, so this is the regular representation with the vertices as
    its basis."""

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"cyclic group order must be a positive int, got {n!r}")
        self.n = n
        self.name = f"C{n}"

    @property
    def order(self) -> int:
        return self.n

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, dtype=torch.long, device=device)

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        return torch.arange(self.n, device=device)

    def generators(self) -> Tensor:
        return torch.ones(1, dtype=torch.long)

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.randint(self.n, (batch,), generator=generator).to(device)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return torch.remainder(g + h, self.n)

    def inverse(self, g: Tensor) -> Tensor:
        return torch.remainder(-g, self.n)

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (torch.remainder(g - h, self.n) != 0).to(DEFAULT_DTYPE)

    def describe(self, g: Tensor) -> list[str]:
        k = torch.remainder(g.long().reshape(-1), self.n).tolist()
        return [("identity" if i == 0 else f"rotation by {degrees(2 * math.pi * i / self.n)}")
                for i in k]

    def index(self, g: Tensor) -> Tensor:
        return torch.remainder(g.long(), self.n)

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": 2, "regular": self.n, "permutation": self.n}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        if kind == "standard":
            return rotation_matrix_2d(g.to(DEFAULT_DTYPE) * (2 * math.pi / self.n))
        return _shift_matrices(g, self.n)


def _shift_matrices(k: Tensor, n: int) -> Tensor:
    """Permutation matrices of cyclic shifts: ``(P x)[i] = x[i − k]``, ``(batch, n, n)``."""
    i = torch.arange(n)
    cols = torch.remainder(i[None, :] - k[:, None].long(), n)  # row i reads x[i - k]
    out = torch.zeros(k.shape[0], n, n, dtype=DEFAULT_DTYPE)
    out.scatter_(2, cols[:, :, None], 1.0)
    return out


class CyclicShifts(CyclicGroup):
    """Cyclic shifts of a 1-d grid of ``n`` cells; ``"standard"`` (and ``"permutation"``) is the
    ``n × n`` shift matrix.

    Matches :func:`quotient.actions.roll_signal`: ``(k·x)[i] = x[i − k]`` (``torch.roll``).
    """

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.name = f"Z{n}"

    def describe(self, g: Tensor) -> list[str]:
        k = torch.remainder(g.long().reshape(-1), self.n).tolist()
        return ["identity" if i == 0 else f"shift by {i} of {self.n} cells" for i in k]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": self.n, "regular": self.n, "permutation": self.n, "fourier": 2}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        if kind == "fourier":  # the first Fourier mode rotates by 2πk/n
            return rotation_matrix_2d(g.to(DEFAULT_DTYPE) * (2 * math.pi / self.n))
        return _shift_matrices(g, self.n)


class CyclicShifts2d(FiniteGroup):
    """Cyclic shifts of an ``h × w`` grid, ℤ_h × ℤ_w; elements ``(batch, 2)`` int64 ``(dy, dx)``.

    ``"standard"`` is the ``hw × hw`` permutation of the row-major flattened grid.
    """

    def __init__(self, h: int, w: int) -> None:
        if h < 1 or w < 1:
            raise ValueError(f"grid size must be positive, got {h}x{w}")
        self.h, self.w = h, w
        self.name = f"Z{h}xZ{w}"

    @property
    def order(self) -> int:
        return self.h * self.w

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, 2, dtype=torch.long, device=device)

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        dy, dx = torch.meshgrid(torch.arange(self.h), torch.arange(self.w), indexing="ij")
        return torch.stack([dy.reshape(-1), dx.reshape(-1)], -1).to(device)

    def generators(self) -> Tensor:
        return torch.tensor([[1, 0], [0, 1]])

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return torch.remainder(g + h, torch.tensor([self.h, self.w], device=g.device))

    def inverse(self, g: Tensor) -> Tensor:
        return torch.remainder(-g, torch.tensor([self.h, self.w], device=g.device))

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (self.index(g) != self.index(h)).to(DEFAULT_DTYPE)

    def index(self, g: Tensor) -> Tensor:
        return torch.remainder(g[:, 0], self.h) * self.w + torch.remainder(g[:, 1], self.w)

    def describe(self, g: Tensor) -> list[str]:
        return [f"shift by ({int(dy) % self.h}, {int(dx) % self.w}) cells (rows, columns)"
                for dy, dx in g.long().tolist()]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": self.h * self.w, "regular": self.h * self.w}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        ry = _shift_matrices(g[:, 0], self.h)
        rx = _shift_matrices(g[:, 1], self.w)
        b = g.shape[0]
        return (ry[:, :, None, :, None] * rx[:, None, :, None, :]).reshape(
            b, self.h * self.w, self.h * self.w)
