"""Quarter turns and cyclic shifts of a square grid: the semidirect product C4 ⋉ (ℤ_n × ℤ_n).

An element is ``(k, dy, dx)`` (int64, ``(batch, 3)``): first turn the ``n × n`` grid by ``k``
quarter turns about its centre (counter-clockwise as displayed, :func:`torch.rot90` on the last
two dims), then shift it cyclically by ``(dy, dx)`` cells (rows, columns). On pixel indices
``p = (i, j)``

    g·p = R^k p + s  (mod n),      R (i, j) = (n − 1 − j, i),

so that turning a shifted grid is shifting the turned grid by the turned shift,
``rot90 ∘ roll_s = roll_{R₀ s} ∘ rot90`` with ``R₀ (dy, dx) = (−dx, dy)``, and composition is

    (k₁, s₁)·(k₂, s₂) = (k₁ + k₂, s₁ + R₀^{k₁} s₂).

This is the exact discrete part of SE(2) acting on images: for content that stays away from the
border a cyclic shift is an ordinary translation, so a model exact under this group is exact
under quarter turns about the centre and under integer translations that keep the content on
the canvas. The action on images is :data:`quotient.nn.se2_images.turn_shift_image`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, FiniteGroup, _check_batch

__all__ = ["QuarterTurnsShifts2d", "turn_shift_vector"]


def turn_shift_vector(k: Tensor, s: Tensor) -> Tensor:
    """``R₀^k s`` for shift vectors ``s (B, 2)`` (rows, columns), ``R₀ (dy, dx) = (−dx, dy)``
    (exact integer arithmetic; also for real ``s``)."""
    k = torch.remainder(k.long(), 4)
    dy, dx = s[:, 0], s[:, 1]
    turned = torch.stack([torch.stack([dy, dx], -1), torch.stack([-dx, dy], -1),
                          torch.stack([-dy, -dx], -1), torch.stack([dx, -dy], -1)], 0)
    return turned[k, torch.arange(s.shape[0], device=s.device)]


class QuarterTurnsShifts2d(FiniteGroup):
    """C4 ⋉ (ℤ_n × ℤ_n) on an ``n × n`` grid; elements ``(batch, 3)`` int64 ``(k, dy, dx)``.

    ``"standard"`` is the permutation representation on the row-major flattened grid
    (``n² × n²``): the action on one-channel images. Order ``4n²``; elements enumerate
    ``k``-major, identity first.
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"grid size must be positive, got {n}")
        self.n = n
        self.name = f"C4⋉Z{n}xZ{n}"

    @property
    def order(self) -> int:
        return 4 * self.n * self.n

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, 3, dtype=torch.long, device=device)

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        k, dy, dx = torch.meshgrid(torch.arange(4), torch.arange(self.n), torch.arange(self.n),
                                   indexing="ij")
        return torch.stack([k.reshape(-1), dy.reshape(-1), dx.reshape(-1)], -1).to(device)

    def generators(self) -> Tensor:
        return torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]])

    def _wrap(self, g: Tensor) -> Tensor:
        mod = torch.tensor([4, self.n, self.n], device=g.device)
        return torch.remainder(g.long(), mod)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        g, h = self._wrap(g), self._wrap(h)
        s = g[:, 1:] + turn_shift_vector(g[:, 0], h[:, 1:])
        return self._wrap(torch.cat([(g[:, :1] + h[:, :1]), s], -1))

    def inverse(self, g: Tensor) -> Tensor:
        g = self._wrap(g)
        k = -g[:, 0]
        # (k, s)⁻¹ = (−k, −R₀^{−k} s)
        return self._wrap(torch.cat([k[:, None], -turn_shift_vector(k, g[:, 1:])], -1))

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (self.index(g) != self.index(h)).to(DEFAULT_DTYPE)

    def index(self, g: Tensor) -> Tensor:
        g = self._wrap(g)
        return (g[:, 0] * self.n + g[:, 1]) * self.n + g[:, 2]

    def describe(self, g: Tensor) -> list[str]:
        return [f"{90 * k}° turn about the centre, then shift by ({dy}, {dx}) cells"
                for k, dy, dx in self._wrap(g).tolist()]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": self.n * self.n}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        g = self._wrap(g)
        n, b = self.n, g.shape[0]
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        p = torch.stack([i.reshape(-1), j.reshape(-1)], -1)  # (n², 2) source pixels
        out = torch.zeros(b, n * n, n * n, dtype=DEFAULT_DTYPE)
        for row in range(b):
            q = p
            for _ in range(int(g[row, 0])):  # R (i, j) = (n − 1 − j, i)
                q = torch.stack([n - 1 - q[:, 1], q[:, 0]], -1)
            q = torch.remainder(q + g[row, 1:], n)
            out[row, q[:, 0] * n + q[:, 1], torch.arange(n * n)] = 1.0
        return out
