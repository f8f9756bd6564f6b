"""The eight 3-d Tetris shapes of four points, randomly posed: the SE(3) x S_4 toy task.

Shapes (unit-cube coordinates, before centring): two chiral "screw" shapes that are mirror images
of each other (``y -> -y``), the flat square, line, L, T and zigzag, and the 3-d corner (tripod).
The six achiral shapes are all different up to any isometry; the chiral pair has equal pairwise
distances and opposite orientation (signed volume), so only proper rotations tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["TETRIS_NAMES", "Tetris", "make_tetris", "random_rotations", "tetris_shapes"]

TETRIS_NAMES: tuple[str, ...] = (
    "chiral_1", "chiral_2", "square", "line", "corner", "L", "T", "zigzag",
)
"""Names of the eight Tetris shapes (two of them a mirror pair), indexed by label."""

_COORDS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)),  # chiral_1
    ((0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)),  # chiral_2: chiral_1 mirrored in y
    ((0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)),  # square
    ((0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)),  # line
    ((0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)),  # corner
    ((0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)),  # L
    ((0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)),  # T
    ((0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)),  # zigzag
)


def tetris_shapes(*, centered: bool = True, dtype: torch.dtype = torch.float64) -> Tensor:
    """The canonical shapes, (8, 4, 3), in the order of ``TETRIS_NAMES``.

    With ``centered=True`` each shape is translated so that its centroid is the origin.
    """
    shapes = torch.tensor(_COORDS, dtype=dtype)
    if centered:
        shapes = shapes - shapes.mean(dim=1, keepdim=True)
    return shapes


def random_rotations(
    n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> Tensor:
    """``n`` rotation matrices drawn uniformly (Haar) from SO(3): (n, 3, 3), det = +1.

    Built from normalised Gaussian quaternions, which are uniform on the 3-sphere.
    """
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(dim=1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=1).reshape(n, 3, 3).to(dtype)


@dataclass(frozen=True)
class Tetris:
    """Posed, permuted and noisy Tetris shapes.

    ``positions[n, i] = rotations[n] @ S[labels[n], permutations[n, i]] + translations[n] + eps``
    with ``S = tetris_shapes()`` (centred) and ``eps ~ N(0, noise^2 I)``.

    Attributes:
        positions: float32 (N, 4, 3).
        labels: int64 (N,) index into ``TETRIS_NAMES``.
        rotations: float32 (N, 3, 3), proper rotations (identity when ``rotate=False``).
        translations: float32 (N, 3).
        permutations: int64 (N, 4), a permutation of 0..3 per sample.
    """

    positions: Tensor
    labels: Tensor
    rotations: Tensor
    translations: Tensor
    permutations: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_tetris(
    n: int,
    noise: float = 0.01,
    translation_std: float = 5.0,
    rotate: bool = True,
    permute: bool = True,
    *,
    seed: int = 0,
) -> Tetris:
    """Draw ``n`` Tetris samples: balanced shuffled labels, Haar rotations, Gaussian translations.

    Args:
        n: number of samples (classes as balanced as ``n`` allows, in random order).
        noise: standard deviation of the i.i.d. Gaussian noise added to every coordinate.
        translation_std: standard deviation of each translation coordinate.
        rotate: draw a uniform random rotation (else the identity).
        permute: randomly permute the four points (else keep the canonical order).
        seed: seed of everything above.

    Returns:
        Tetris with positions float32 (n, 4, 3) and the labels, rotations, translations and
        permutations used.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not (noise >= 0.0 and translation_std >= 0.0):
        raise ValueError(
            f"noise and translation_std must be >= 0, got {noise!r} and {translation_std!r}"
        )
    generator = torch.Generator().manual_seed(seed)
    n_shapes = len(TETRIS_NAMES)
    labels = (torch.arange(n) % n_shapes)[torch.randperm(n, generator=generator)]
    if permute:
        permutations = torch.rand(n, 4, generator=generator).argsort(dim=1)
    else:
        permutations = torch.arange(4).expand(n, 4).clone()
    if rotate:
        rotations = random_rotations(n, generator=generator)
    else:
        rotations = torch.eye(3, dtype=torch.float64).expand(n, 3, 3).clone()
    translations = translation_std * torch.randn(n, 3, generator=generator, dtype=torch.float64)
    eps = noise * torch.randn(n, 4, 3, generator=generator, dtype=torch.float64)
    canonical = tetris_shapes()[labels]  # (n, 4, 3)
    points = torch.gather(canonical, 1, permutations.unsqueeze(-1).expand(n, 4, 3))
    positions = points @ rotations.transpose(1, 2) + translations.unsqueeze(1) + eps
    return Tetris(
        positions=positions.to(torch.float32),
        labels=labels,
        rotations=rotations.to(torch.float32),
        translations=translations.to(torch.float32),
        permutations=permutations,
    )
