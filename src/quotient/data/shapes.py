"""Triangles and pentagons on a small grid: a per-pixel segmentation task for C4 (rot90) symmetry.

Each image holds a few non-overlapping regular triangles and pentagons with random centre, size
and orientation, rasterised by a point-in-convex-polygon test at pixel centres. The input is the
binary union of the shapes; the target marks each pixel 0 (background), 1 (triangle) or
2 (pentagon). Centres are drawn from a square centred on the image, so the distribution is
invariant under rotating the image by multiples of 90 degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["BACKGROUND", "PENTAGON", "TRIANGLE", "PolygonSegmentation",
           "make_polygon_segmentation", "rasterize_polygons"]

BACKGROUND = 0
"""Segmentation class of pixels outside every polygon."""
TRIANGLE = 1
"""Segmentation class of triangle pixels."""
PENTAGON = 2
"""Segmentation class of pentagon pixels."""
_SIDES = {TRIANGLE: 3, PENTAGON: 5}
_TRIES_PER_ROUND = 8


@dataclass(frozen=True)
class PolygonSegmentation:
    """Binary shape images with per-pixel class targets.

    Attributes:
        images: float32 (N, 1, S, S), 1 on any shape, 0 elsewhere (equals ``targets > 0``).
        targets: int64 (N, S, S) in {0 background, 1 triangle, 2 pentagon}.
        kinds: int64 (N, K), the class of each placed shape (0 where no room was found).
        centers: float32 (N, K, 2) as (x, y) = (column, row) in pixel units, pixel centres at
            half-integers.
        radii: float32 (N, K) circumradii in pixels.
        angles: float32 (N, K) orientation of the first vertex, radians.
    """

    images: Tensor
    targets: Tensor
    kinds: Tensor
    centers: Tensor
    radii: Tensor
    angles: Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def rasterize_polygons(vertices: Tensor, size: int) -> Tensor:
    """Fill convex polygons on a ``size`` x ``size`` grid.

    Args:
        vertices: (N, m, 2) polygon vertices as (x, y) = (column, row), counter-clockwise in these
            coordinates; the pixel in row i and column j has centre (j + 0.5, i + 0.5).
        size: grid side.

    Returns:
        bool (N, size, size), True where the pixel centre lies inside or on the polygon.
    """
    if vertices.ndim != 3 or vertices.shape[-1] != 2 or vertices.shape[1] < 3:
        raise ValueError(f"vertices must be (N, m >= 3, 2), got {tuple(vertices.shape)}")
    v = vertices.to(torch.float64)
    c = torch.arange(size, dtype=torch.float64) + 0.5
    inside = torch.ones(v.shape[0], size, size, dtype=torch.bool)
    for k in range(v.shape[1]):
        x0, y0 = v[:, k, 0], v[:, k, 1]
        ex, ey = v[:, (k + 1) % v.shape[1], 0] - x0, v[:, (k + 1) % v.shape[1], 1] - y0
        # cross(edge, p - v_k) = ex * (py - y0) - ey * (px - x0), split into row and column parts
        rows = ex[:, None] * c + (ey * x0 - ex * y0)[:, None]  # (N, S) over py
        cols = ey[:, None] * c  # (N, S) over px
        inside &= (rows[:, :, None] - cols[:, None, :]) >= -1e-9
    return inside


def _regular_vertices(centers: Tensor, radii: Tensor, angles: Tensor, sides: int) -> Tensor:
    k = torch.arange(sides, dtype=torch.float64) * (2 * math.pi / sides)
    theta = angles[:, None] + k[None, :]
    xy = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)
    return centers[:, None, :] + radii[:, None, None] * xy


def _shape_mask(
    centers: Tensor, radii: Tensor, angles: Tensor, kinds: Tensor, size: int
) -> Tensor:
    out = torch.zeros(centers.shape[0], size, size, dtype=torch.bool)
    for kind, sides in _SIDES.items():
        sel = kinds == kind
        if sel.any():
            verts = _regular_vertices(centers[sel], radii[sel], angles[sel], sides)
            out[sel] = rasterize_polygons(verts, size)
    return out


def make_polygon_segmentation(
    n: int,
    size: int = 14,
    shapes_per_image: int = 2,
    radius_range: tuple[float, float] = (2.5, 4.0),
    *,
    seed: int = 0,
    max_tries: int = 64,
) -> PolygonSegmentation:
    """Draw ``n`` images of non-overlapping regular triangles and pentagons.

    Each shape is a triangle or a pentagon with probability 1/2, circumradius uniform in
    ``radius_range``, orientation uniform, centre uniform in ``[r, size - r]^2`` (the shape stays
    inside the frame). Shapes are placed one after another; a candidate centre is rejected if the
    shape would cover or touch (8-neighbourhood) pixels of an earlier shape, and a shape with
    ``max_tries`` rejected candidates is left out (its kind is 0).

    Returns:
        PolygonSegmentation with images float32 (n, 1, size, size) and targets int64
        (n, size, size).
    """
    for name, value, low in (("n", n, 0), ("size", size, 4), ("shapes_per_image", shapes_per_image,
                             1), ("max_tries", max_tries, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    r_lo, r_hi = radius_range
    if not 0.5 <= r_lo <= r_hi <= size / 2:
        raise ValueError(
            f"radius_range must satisfy 0.5 <= low <= high <= size / 2 = {size / 2}, "
            f"got {radius_range}"
        )
    g = torch.Generator().manual_seed(seed)
    k = shapes_per_image
    kinds = torch.randint(1, 3, (n, k), generator=g)
    radii = r_lo + (r_hi - r_lo) * torch.rand(n, k, generator=g, dtype=torch.float64)
    angles = 2 * math.pi * torch.rand(n, k, generator=g, dtype=torch.float64)
    centers = torch.zeros(n, k, 2, dtype=torch.float64)
    targets = torch.zeros(n, size, size, dtype=torch.int64)
    for j in range(k):
        placed = torch.zeros(n, dtype=torch.bool)
        # Pixels a new shape may not cover: existing shapes grown by one pixel (8-neighbourhood).
        taken = (targets > 0).to(torch.float32).unsqueeze(1)
        blocked = F.max_pool2d(taken, 3, stride=1, padding=1).squeeze(1) > 0
        masks = torch.zeros(n, size, size, dtype=torch.bool)
        tried = 0
        while tried < max_tries and not placed.all():
            todo = (~placed).nonzero().squeeze(1)
            # one candidate first (enough for most), then several per round for the rest
            t = min(1 if tried == 0 else _TRIES_PER_ROUND, max_tries - tried)
            tried += t
            r = radii[todo, j, None, None]
            cand = r + (size - 2 * r) * torch.rand(todo.numel(), t, 2, generator=g,
                                                   dtype=torch.float64)
            mask = _shape_mask(
                cand.reshape(-1, 2), radii[todo, j].repeat_interleave(t),
                angles[todo, j].repeat_interleave(t), kinds[todo, j].repeat_interleave(t), size,
            ).reshape(todo.numel(), t, size, size)
            ok = ~(mask & blocked[todo, None]).flatten(2).any(dim=2)  # (todo, t)
            found = ok.any(dim=1)
            pick = ok.to(torch.int64).argmax(dim=1)[found]
            rows = todo[found]
            centers[rows, j] = cand[found, pick]
            masks[rows] = mask[found, pick]
            placed[rows] = True
        kinds[:, j] = torch.where(placed, kinds[:, j], BACKGROUND)
        targets[masks] = kinds[:, j, None, None].expand(n, size, size)[masks]
    return PolygonSegmentation(
        images=(targets > 0).to(torch.float32).unsqueeze(1),
        targets=targets,
        kinds=kinds,
        centers=centers.to(torch.float32),
        radii=radii.to(torch.float32),
        angles=angles.to(torch.float32),
    )
