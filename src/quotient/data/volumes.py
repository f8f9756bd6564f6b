"""Procedural 3-d solids on a voxel grid: twelve classes with parametric variation, presented
randomly rotated.

Every solid is an inside-test ``inside(params, q) -> bool`` on points ``q (B, M, 3)`` in its
own frame (coordinates where the grid spans ``[−1, 1]³``), roughly centred at the origin:

=================  =====================================================================
``box``            half-sides ``a, b, c`` ∈ [0.2, 0.6]
``cylinder``       radius ∈ [0.2, 0.45], half-height ∈ [0.3, 0.7] (axis z)
``cone``           base radius ∈ [0.3, 0.55], height ∈ [0.8, 1.4] (centroid at the origin)
``ellipsoid``      radii ∈ [0.25, 0.8]
``torus``          radii ``R`` ∈ [0.4, 0.6], ``r`` ∈ [0.12, 0.22] (in the xy-plane)
``L-shape``        two bars of lengths ∈ [0.8, 1.4] and [0.5, 0.9], thickness ∈ [0.25, 0.4]
``T-shape``        a bar of length ∈ [1.0, 1.5] and a stem ∈ [0.5, 0.9], thickness as above
``pyramid``        square base half-side ∈ [0.35, 0.55], height ∈ [0.8, 1.3]
``capsule``        segment half-length ∈ [0.2, 0.5], radius ∈ [0.2, 0.35] (axis z)
``jack``           three orthogonal bars through the centre, half-lengths ∈ [0.35, 0.75]
``crank-right``    three bars along x, then y, then z, end to end (lengths ∈ [0.5, 0.9]): a
                   chiral path (triple product of its directions +1)
``crank-left``     the mirror image of ``crank-right`` (x ↦ −x; triple product −1): no
                   rotation maps one onto the other
=================  =====================================================================

Parameters are drawn uniformly from these ranges per sample; a solid whose farthest point lies
beyond radius :data:`MAX_RADIUS` is shrunk to it, so that every rotation keeps it inside the
grid. Voxelisation: the share of the 2×2×2 sub-voxel points of each voxel that are inside
(values in ``{0, 1/8, …, 1}``). Presentation (``rotation``): ``"so3"`` turns every solid by a
Haar-random rotation by trilinear resampling (:data:`~quotient.actions.volumes.rotate_volume`),
``"cube"`` by a random one of the 24 rotations of the cube (an exact voxel permutation),
``"none"`` leaves it in its own frame. Everything is drawn from one seeded generator.

>>> data = make_volumes(24, size=8, seed=0)
>>> data.volumes.shape, data.labels.shape, data.rotations.shape
(torch.Size([24, 1, 8, 8, 8]), torch.Size([24]), torch.Size([24, 3, 3]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..actions.volumes import cube_rotate_volume, rotate_volume
from ..errors import ConfigError
from ..groups import haar_rotations
from ..groups.cube import cube_rotation_matrices

__all__ = ["CHIRAL_PAIRS", "MAX_RADIUS", "ROTATIONS", "SOLID_NAMES", "VolumeData",
           "make_volumes", "voxelize"]

MAX_RADIUS = 0.85
"""Every solid fits in the ball of this radius (the grid spans ``[−1, 1]³``)."""

ROTATIONS = ("so3", "cube", "none")
"""How the solids are presented: random rotations (``so3``), the 24 of the cube, or none."""

Rotation = Literal["so3", "cube", "none"]
Inside = Callable[[Tensor], Tensor]  # q (B, M, 3) -> (B, M) bool


@dataclass
class VolumeData:
    """Solids on a grid.

    Attributes:
        volumes: ``(N, 1, n, n, n)`` float32 occupancies in ``[0, 1]``.
        labels: ``(N,)`` int64 class indices into :data:`SOLID_NAMES`.
        rotations: ``(N, 3, 3)`` float64, the rotation each solid was presented in.
    """

    volumes: Tensor
    labels: Tensor
    rotations: Tensor


def _u(gen: torch.Generator, b: int, lo: float, hi: float) -> Tensor:
    return (lo + (hi - lo) * torch.rand(b, generator=gen, dtype=torch.float64)).float()


def _in_box(q: Tensor, centre: Tensor, half: Tensor) -> Tensor:
    """``q (B, M, 3)`` inside the axis-aligned boxes ``centre ± half`` (``(B, 3)`` each)."""
    return ((q - centre[:, None]).abs() <= half[:, None]).all(-1)


def _bars(boxes: list[tuple[Tensor, Tensor]]) -> tuple[Inside, Tensor]:
    """A union of boxes ``(centre, half)``, moved so that their volume-weighted centre is at
    the origin; its inside-test and the radius of its farthest corner."""
    vol = torch.stack([h.prod(-1) for _, h in boxes], -1)  # (B, k)
    centres = torch.stack([c for c, _ in boxes], 1)  # (B, k, 3)
    mid = (vol[..., None] * centres).sum(1) / vol.sum(1, keepdim=True)
    moved = [(c - mid, h) for c, h in boxes]
    corners = torch.stack([(c.abs() + h).norm(dim=-1) for c, h in moved], -1)

    def inside(q: Tensor) -> Tensor:
        return torch.stack([_in_box(q, c, h) for c, h in moved], 0).any(0)

    return inside, corners.amax(-1)


def _zeros(b: int) -> Tensor:
    return torch.zeros(b)


def _vec(*parts: Tensor) -> Tensor:
    return torch.stack(parts, -1)


def _box(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    half = _vec(*(_u(gen, b, 0.2, 0.6) for _ in range(3)))
    return (lambda q: _in_box(q, _zeros(b)[:, None].expand(b, 3), half)), half.norm(dim=-1)


def _cylinder(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    r, h = _u(gen, b, 0.2, 0.45), _u(gen, b, 0.3, 0.7)

    def inside(q: Tensor) -> Tensor:
        return (q[..., :2].norm(dim=-1) <= r[:, None]) & (q[..., 2].abs() <= h[:, None])

    return inside, (r * r + h * h).sqrt()


def _cone(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    r, height = _u(gen, b, 0.3, 0.55), _u(gen, b, 0.8, 1.4)
    base = -height / 4  # a cone's centroid lies a quarter of the height above its base

    def inside(q: Tensor) -> Tensor:
        t = (q[..., 2] - base[:, None]) / height[:, None]  # 0 at the base, 1 at the apex
        return (t >= 0) & (t <= 1) & (q[..., :2].norm(dim=-1) <= r[:, None] * (1 - t))

    return inside, torch.maximum((r * r + base * base).sqrt(), 0.75 * height)


def _ellipsoid(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    radii = _vec(*(_u(gen, b, 0.25, 0.8) for _ in range(3)))
    return (lambda q: ((q / radii[:, None]) ** 2).sum(-1) <= 1), radii.amax(-1)


def _torus(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    big, small = _u(gen, b, 0.4, 0.6), _u(gen, b, 0.12, 0.22)

    def inside(q: Tensor) -> Tensor:
        ring = q[..., :2].norm(dim=-1) - big[:, None]
        return ring ** 2 + q[..., 2] ** 2 <= small[:, None] ** 2

    return inside, big + small


def _l_shape(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    la, lb, t = _u(gen, b, 0.8, 1.4), _u(gen, b, 0.5, 0.9), _u(gen, b, 0.25, 0.4)
    z, ht = _zeros(b), t / 2
    return _bars([(_vec(la / 2, z, z), _vec(la / 2, ht, ht)),
                  (_vec(ht, ht + lb / 2, z), _vec(ht, lb / 2, ht))])


def _t_shape(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    la, lb, t = _u(gen, b, 1.0, 1.5), _u(gen, b, 0.5, 0.9), _u(gen, b, 0.25, 0.4)
    z, ht = _zeros(b), t / 2
    return _bars([(_vec(z, z, z), _vec(la / 2, ht, ht)),
                  (_vec(z, -ht - lb / 2, z), _vec(ht, lb / 2, ht))])


def _pyramid(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    s, height = _u(gen, b, 0.35, 0.55), _u(gen, b, 0.8, 1.3)
    base = -height / 4  # the centroid of a pyramid, too, is a quarter of the way up

    def inside(q: Tensor) -> Tensor:
        t = (q[..., 2] - base[:, None]) / height[:, None]
        return (t >= 0) & (t <= 1) & (q[..., :2].abs().amax(-1) <= s[:, None] * (1 - t))

    return inside, torch.maximum((2 * s * s + base * base).sqrt(), 0.75 * height)


def _capsule(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    h, r = _u(gen, b, 0.2, 0.5), _u(gen, b, 0.2, 0.35)

    def inside(q: Tensor) -> Tensor:
        axis = q[..., 2].clamp(-h[:, None], h[:, None])
        return q[..., :2].pow(2).sum(-1) + (q[..., 2] - axis) ** 2 <= r[:, None] ** 2

    return inside, h + r


def _jack(gen: torch.Generator, b: int) -> tuple[Inside, Tensor]:
    lengths = [_u(gen, b, 0.35, 0.75) for _ in range(3)]
    t = _u(gen, b, 0.1, 0.15)
    z = _zeros(b)
    boxes = []
    for axis in range(3):
        half = [t, t, t]
        half[axis] = lengths[axis]
        boxes.append((_vec(z, z, z), _vec(*half)))
    return _bars(boxes)


def _crank(gen: torch.Generator, b: int, mirror: bool) -> tuple[Inside, Tensor]:
    """Bars along x, then y, then z, end to end (with ``mirror``, along −x first)."""
    la, lb, lc = (_u(gen, b, 0.5, 0.9) for _ in range(3))
    t = _u(gen, b, 0.22, 0.32)
    z, ht = _zeros(b), t / 2
    sx = -1.0 if mirror else 1.0
    boxes = [(_vec(sx * la / 2, z, z), _vec(la / 2 + ht, ht, ht)),
             (_vec(sx * la, lb / 2, z), _vec(ht, lb / 2 + ht, ht)),
             (_vec(sx * la, lb, lc / 2), _vec(ht, ht, lc / 2 + ht))]
    return _bars(boxes)


_SOLIDS: dict[str, Callable[[torch.Generator, int], tuple[Inside, Tensor]]] = {
    "box": _box, "cylinder": _cylinder, "cone": _cone, "ellipsoid": _ellipsoid,
    "torus": _torus, "L-shape": _l_shape, "T-shape": _t_shape, "pyramid": _pyramid,
    "capsule": _capsule, "jack": _jack,
    "crank-right": lambda gen, b: _crank(gen, b, mirror=False),
    "crank-left": lambda gen, b: _crank(gen, b, mirror=True),
}

SOLID_NAMES: tuple[str, ...] = tuple(_SOLIDS)
"""The class names, in label order."""

CHIRAL_PAIRS: tuple[tuple[str, str], ...] = (("crank-right", "crank-left"),)
"""Classes that are mirror images of each other (and of no rotation of each other)."""


def _sub_points(size: int) -> Tensor:
    """The 2×2×2 sub-voxel points of an ``size³`` grid spanning ``[−1, 1]³``, ``(size³·8, 3)``
    ordered voxel-major (the 8 points of a voxel are consecutive)."""
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) * (2.0 / size) - 1.0
    offsets = torch.tensor([-0.25, 0.25], dtype=torch.float64) * (2.0 / size)
    grid = torch.stack(torch.meshgrid(centres, centres, centres, indexing="ij"), -1)
    sub = torch.stack(torch.meshgrid(offsets, offsets, offsets, indexing="ij"), -1)
    return (grid.reshape(-1, 1, 3) + sub.reshape(1, 8, 3)).reshape(-1, 3)


def voxelize(inside: Inside, radius: Tensor, size: int) -> Tensor:
    """Occupancies ``(B, 1, size, size, size)`` float32 of solids given by ``inside`` and
    their farthest-point ``radius (B,)``: the share of each voxel's 2×2×2 sub-points inside,
    the solid shrunk to :data:`MAX_RADIUS` where it reaches farther."""
    b = radius.shape[0]
    shrink = (radius / MAX_RADIUS).clamp_min(1.0)  # q in the solid's frame = p · shrink
    # float32 points: the parameters are drawn in float64 but the tests need no more
    q = _sub_points(size).float()[None] * shrink.float()[:, None, None]
    occ = inside(q).reshape(b, size ** 3, 8).float().mean(-1)
    return occ.reshape(b, 1, size, size, size)


def make_volumes(n: int, *, size: int = 16, seed: int = 0, rotation: Rotation = "so3",
                 classes: tuple[str, ...] | None = None, chunk: int = 256) -> VolumeData:
    """``n`` solids, classes balanced (shuffled), each with its own parameters and rotation.

    Args:
        n: number of samples.
        size: grid size ``n`` of the ``n³`` voxels (even, ≥ 4).
        seed: seeds everything (parameters, class order, rotations).
        rotation: ``"so3"`` (Haar-random, trilinear), ``"cube"`` (one of the 24, exact) or
            ``"none"``.
        classes: a subset of :data:`SOLID_NAMES` (labels stay the indices into
            :data:`SOLID_NAMES`).
        chunk: samples voxelised at once (memory).

    Raises:
        ConfigError: a bad size, count, rotation or class name (naming the valid ones).
    """
    if n < 1:
        raise ConfigError(f"make_volumes: n must be >= 1, got {n}")
    if size < 4 or size % 2:
        raise ConfigError(f"make_volumes: size must be even and >= 4, got {size}")
    if rotation not in ROTATIONS:
        raise ConfigError(f"make_volumes: rotation must be one of {ROTATIONS}, got "
                          f"{rotation!r}")
    names = SOLID_NAMES if classes is None else tuple(classes)
    unknown = sorted(set(names) - set(SOLID_NAMES))
    if unknown or not names:
        raise ConfigError(f"make_volumes: unknown classes {unknown or '(none given)'}; choose "
                          f"from {', '.join(SOLID_NAMES)}")
    gen = torch.Generator().manual_seed(seed)
    ids = torch.tensor([SOLID_NAMES.index(c) for c in names])
    labels = ids[torch.randperm(n, generator=gen) % len(names)]
    volumes = torch.zeros(n, 1, size, size, size)
    for cls in ids.tolist():
        where = (labels == cls).nonzero()[:, 0]
        for start in range(0, where.numel(), chunk):
            part = where[start:start + chunk]
            inside, radius = _SOLIDS[SOLID_NAMES[cls]](gen, part.numel())
            volumes[part] = voxelize(inside, radius, size)
    if rotation == "so3":
        rotations = haar_rotations(n, generator=gen)
        volumes = torch.cat([rotate_volume(rotations[s:s + chunk], volumes[s:s + chunk])
                             for s in range(0, n, chunk)]).clamp_(0.0, 1.0)
    elif rotation == "cube":
        rotations = cube_rotation_matrices()[torch.randint(24, (n,), generator=gen)]
        volumes = cube_rotate_volume(rotations, volumes)
    else:
        rotations = torch.eye(3, dtype=torch.float64).expand(n, 3, 3).clone()
    return VolumeData(volumes.contiguous(), labels, rotations)
