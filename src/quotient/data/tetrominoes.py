"""The seven 2-d tetrominoes, randomly posed: the SE(2) × S_4 toy task.

Shapes (unit-grid cells, before centring): I, O, T, S, Z, J, L. S and Z, and J and L, are
mirror images of each other (``x ↦ −x``): only proper rotations tell them apart. Every sample is
one shape, centred, turned by a uniform angle, moved by ``N(0, translation_std²)`` per
coordinate, its four points shuffled, plus ``N(0, noise²)`` per coordinate. Seeded: the same
seed gives the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["TETROMINO_NAMES", "MIRROR_PAIRS", "Tetrominoes", "make_tetrominoes",
           "tetromino_shapes"]

TETROMINO_NAMES: tuple[str, ...] = ("I", "O", "T", "S", "Z", "J", "L")
"""Names of the seven tetrominoes, indexed by label."""
MIRROR_PAIRS: tuple[tuple[str, str], ...] = (("S", "Z"), ("J", "L"))
"""The tetrominoes that are mirror images of each other (the same under O(2), apart under
SO(2))."""

_CELLS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 0), (1, 0), (2, 0), (3, 0)),  # I
    ((0, 0), (1, 0), (0, 1), (1, 1)),  # O
    ((0, 0), (1, 0), (2, 0), (1, 1)),  # T
    ((1, 0), (2, 0), (0, 1), (1, 1)),  # S
    ((0, 0), (1, 0), (1, 1), (2, 1)),  # Z: S mirrored in x
    ((0, 0), (1, 0), (2, 0), (0, 1)),  # J
    ((0, 0), (1, 0), (2, 0), (2, 1)),  # L: J mirrored in x
)


def tetromino_shapes(*, dtype: torch.dtype = torch.float64) -> Tensor:
    """The centred shapes ``(7, 4, 2)`` in the order of :data:`TETROMINO_NAMES`."""
    shapes = torch.tensor(_CELLS, dtype=dtype)
    return shapes - shapes.mean(dim=1, keepdim=True)


@dataclass
class Tetrominoes:
    """Posed tetrominoes: ``positions`` float32 ``(N, 4, 2)``, ``labels`` int64 ``(N,)``
    (indices into :data:`TETROMINO_NAMES`), and the ``angles`` ``(N,)`` and ``translations``
    ``(N, 2)`` they were posed with."""

    positions: Tensor
    labels: Tensor
    angles: Tensor
    translations: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_tetrominoes(n: int, *, seed: int = 0, noise: float = 0.01,
                     translation_std: float = 3.0) -> Tetrominoes:
    """``n`` posed tetrominoes drawn from a generator seeded by ``seed``.

    Raises:
        ValueError: ``n`` is not positive, or ``noise`` / ``translation_std`` is negative.
    """
    if n < 1:
        raise ValueError(f"make_tetrominoes needs n >= 1, got {n}")
    if noise < 0 or translation_std < 0:
        raise ValueError(f"noise and translation_std must be >= 0, got {noise}, "
                         f"{translation_std}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(TETROMINO_NAMES), (n,), generator=gen)
    angles = torch.rand(n, generator=gen, dtype=torch.float64) * (2 * math.pi)
    c, s = torch.cos(angles), torch.sin(angles)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    shift = torch.randn(n, 2, generator=gen, dtype=torch.float64) * translation_std
    order = torch.rand(n, 4, generator=gen).argsort(dim=1)
    points = tetromino_shapes()[labels] @ rot.transpose(1, 2) + shift[:, None, :]
    points = points.gather(1, order[..., None].expand(-1, -1, 2))
    points = points + torch.randn(points.shape, generator=gen, dtype=torch.float64) * noise
    return Tetrominoes(points.float(), labels, angles, shift)
