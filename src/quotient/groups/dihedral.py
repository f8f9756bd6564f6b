"""Dihedral groups D_n: the n rotations and n reflections of a regular n-gon.

An element is ``(k, f)`` (``(batch, 2)`` int64) standing for ``r^k s^f``: first reflect (``f = 1``:
``s`` flips the second coordinate, ``(x, y) ↦ (x, −y)``), then rotate by ``2πk/n``.
Composition uses ``s r = r⁻¹ s``: ``(k₁, f₁)(k₂, f₂) = (k₁ + (−1)^{f₁} k₂, f₁ ⊕ f₂)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, FiniteGroup, _check_batch, degrees
from .so2 import rotation_matrix_2d


class DihedralGroup(FiniteGroup):
    """D_n of order 2n. Representations: ``"standard"`` (2×2 orthogonal), ``"regular"``,
    ``"sign"`` (det of the standard representation) and ``"permutation"`` (n×n): D_n permuting
    the n vertices of the regular n-gon, vertex ``j`` at angle ``2πj/n``, so that
    ``r^k s^f`` sends vertex ``j`` to ``k + (−1)^f j`` (mod n) and ``P[σ(j), j] = 1`` as for
    S_n; the standard representation moves the vertex positions the same way."""

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"dihedral group needs a positive int n, got {n!r}")
        self.n = n
        self.name = f"D{n}"

    @property
    def order(self) -> int:
        return 2 * self.n

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, 2, dtype=torch.long, device=device)

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        k = torch.arange(self.n).repeat(2)
        f = torch.arange(2).repeat_interleave(self.n)
        return torch.stack([k, f], -1).to(device)

    def generators(self) -> Tensor:
        return torch.tensor([[1, 0], [0, 1]])

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        sign = 1 - 2 * g[:, 1]
        k = torch.remainder(g[:, 0] + sign * h[:, 0], self.n)
        return torch.stack([k, (g[:, 1] + h[:, 1]) % 2], -1)

    def inverse(self, g: Tensor) -> Tensor:
        # (r^k s)^-1 = r^k s ; (r^k)^-1 = r^-k
        k = torch.where(g[:, 1] == 1, g[:, 0], torch.remainder(-g[:, 0], self.n))
        return torch.stack([k, g[:, 1]], -1)

    def index(self, g: Tensor) -> Tensor:
        return g[:, 1] * self.n + torch.remainder(g[:, 0], self.n)

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (self.index(g) != self.index(h)).to(DEFAULT_DTYPE)

    def describe(self, g: Tensor) -> list[str]:
        out = []
        for k, f in g.long().tolist():
            turn = f"rotation by {degrees(2 * math.pi * (k % self.n) / self.n)}"
            if f % 2 == 0:
                out.append("identity" if k % self.n == 0 else turn)
            else:
                out.append("reflection" + ("" if k % self.n == 0 else f", then {turn}"))
        return out

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": 2, "regular": 2 * self.n, "sign": 1, "permutation": self.n}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        if kind == "regular":
            return self.regular_representation(g)
        if kind == "permutation":
            j = torch.arange(self.n)
            sign = 1 - 2 * g[:, 1:2].long()
            image = torch.remainder(g[:, :1].long() + sign * j[None, :], self.n)  # σ(j)
            out = torch.zeros(g.shape[0], self.n, self.n, dtype=DEFAULT_DTYPE)
            return out.scatter_(1, image[:, None, :], 1.0)
        f = g[:, 1].to(DEFAULT_DTYPE)
        if kind == "sign":
            return (1 - 2 * f)[:, None, None]
        rot = rotation_matrix_2d(g[:, 0].to(DEFAULT_DTYPE) * (2 * math.pi / self.n))
        flip = torch.diag_embed(torch.stack([torch.ones_like(f), 1 - 2 * f], -1))
        return rot @ flip
