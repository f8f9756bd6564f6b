"""Translations T(d) and rigid motions SE(2), E(2), SE(3), E(3).

T(d) elements are vectors ``(batch, d)``. Rigid motions are homogeneous matrices
``(batch, d+1, d+1)`` = ``[[R, t], [0, 1]]`` acting by ``x ↦ R x + t``; composition is the
matrix product, which realises the semidirect product SO(d) ⋉ T(d).
These groups are not compact: :meth:`sample` draws translations from ``N(0, scale²)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, Group, _check_batch, degrees
from .so2 import rotation_matrix_2d
from .so3 import haar_rotations, so3_generators


def homogeneous(rotation: Tensor, translation: Tensor) -> Tensor:
    """``[[R, t], [0, 1]]`` from ``R (batch, d, d)`` and ``t (batch, d)``."""
    b, d = translation.shape
    out = torch.zeros(b, d + 1, d + 1, dtype=rotation.dtype, device=rotation.device)
    out[:, :d, :d] = rotation
    out[:, :d, d] = translation.to(rotation.dtype)
    out[:, d, d] = 1.0
    return out


def rotation_part(g: Tensor) -> Tensor:
    """``R`` of homogeneous ``g``."""
    d = g.shape[-1] - 1
    return g[..., :d, :d]


def translation_part(g: Tensor) -> Tensor:
    """``t`` of homogeneous ``g``."""
    d = g.shape[-1] - 1
    return g[..., :d, d]


def _translation_generators(d: int) -> Tensor:
    gens = torch.zeros(d, d + 1, d + 1, dtype=DEFAULT_DTYPE)
    for i in range(d):
        gens[i, i, d] = 1.0
    return gens


class Translations(Group):
    """T(d) = (ℝ^d, +). ``"standard"`` is the affine (d+1)×(d+1) matrix ``[[I, t], [0, 1]]``."""

    def __init__(self, d: int, scale: float = 1.0) -> None:
        self.d, self.scale = d, scale
        self.name = f"T({d})"

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.zeros(batch, self.d, dtype=dtype, device=device)

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        t = torch.randn(batch, self.d, generator=generator, dtype=torch.float64) * self.scale
        return t.to(dtype=dtype, device=device)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return g + h

    def inverse(self, g: Tensor) -> Tensor:
        return -g

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (g - h).norm(dim=-1)

    def describe(self, g: Tensor) -> list[str]:
        return [f"translation by ({', '.join(f'{v:.3g}' for v in t)})" for t in g.tolist()]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": self.d + 1}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        eye = torch.eye(self.d, dtype=g.dtype, device=g.device).expand(g.shape[0], -1, -1)
        return homogeneous(eye, g)

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        if kind == "trivial":
            return torch.zeros(self.d, 1, 1, dtype=DEFAULT_DTYPE)
        self.rep_dim(kind)
        return _translation_generators(self.d)


class RigidMotions(Group):
    """SE(d) (``proper=True``) or E(d) (also reflections), d ∈ {2, 3}, as homogeneous matrices.

    Representations: ``"standard"`` (homogeneous, d+1) and ``"rotation"`` (the linear part R,
    d×d, a representation because ``g ↦ R`` is a homomorphism).
    """

    def __init__(self, d: int, *, proper: bool = True, scale: float = 1.0) -> None:
        if d not in (2, 3):
            raise ValueError(f"rigid motions are implemented for d = 2 or 3, got {d}")
        self.d, self.proper, self.scale = d, proper, scale
        self.name = f"{'SE' if proper else 'E'}({d})"

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.eye(self.d + 1, dtype=dtype, device=device).expand(batch, -1, -1).clone()

    def sample_rotation(self, batch: int, *, generator: torch.Generator | None = None,
                        dtype: torch.dtype = DEFAULT_DTYPE) -> Tensor:
        """Haar-random linear parts (with a random reflection for E(d))."""
        if self.d == 2:
            ang = 2 * torch.pi * torch.rand(batch, generator=generator, dtype=torch.float64)
            rot = rotation_matrix_2d(ang)
        else:
            rot = haar_rotations(batch, generator=generator)
        if not self.proper:
            flip = torch.ones(batch, self.d, dtype=torch.float64)
            flip[:, -1] = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
            rot = rot * flip[:, None, :]
        return rot.to(dtype)

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        rot = self.sample_rotation(batch, generator=generator, dtype=torch.float64)
        t = torch.randn(batch, self.d, generator=generator, dtype=torch.float64) * self.scale
        return homogeneous(rot, t).to(dtype=dtype, device=device)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return g @ h

    def inverse(self, g: Tensor) -> Tensor:
        rt = rotation_part(g).transpose(-1, -2)
        return homogeneous(rt, -(rt @ translation_part(g)[..., None])[..., 0])

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (g - h).flatten(1).norm(dim=1)

    def describe(self, g: Tensor) -> list[str]:
        from .so3 import _axis_angle

        out = []
        for m in g.double():
            r, t = m[:self.d, :self.d], m[:self.d, self.d]
            if self.d == 2:
                angle = float(torch.atan2(r[1, 0], r[0, 0]))
                turn = f"rotation by {degrees(angle)}"
                if float(torch.linalg.det(r)) < 0:
                    turn = f"reflection, then {turn}"
            else:
                turn = _axis_angle(r)
            out.append(f"{turn}, then translation by ({', '.join(f'{v:.3g}' for v in t)})")
        return out

    def discrete_generators(self) -> Tensor:
        if self.proper:
            return self.identity(0)
        flip = torch.eye(self.d + 1, dtype=DEFAULT_DTYPE)
        flip[self.d - 1, self.d - 1] = -1.0
        return flip[None]

    @property
    def representations(self) -> dict[str, int]:
        return {"standard": self.d + 1, "rotation": self.d}

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        return g if kind == "standard" else rotation_part(g)

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        if self.d == 2:
            rot = torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=DEFAULT_DTYPE)
        else:
            rot = so3_generators()
        k = rot.shape[0]
        if kind == "trivial":
            return torch.zeros(k + self.d, 1, 1, dtype=DEFAULT_DTYPE)
        self.rep_dim(kind)
        if kind == "rotation":  # translations act trivially on the linear part
            return torch.cat([rot, torch.zeros(self.d, self.d, self.d, dtype=DEFAULT_DTYPE)])
        hom_rot = torch.zeros(k, self.d + 1, self.d + 1, dtype=DEFAULT_DTYPE)
        hom_rot[:, :self.d, :self.d] = rot
        return torch.cat([hom_rot, _translation_generators(self.d)])


def SE2(scale: float = 1.0) -> RigidMotions:
    """SE(2) = SO(2) ⋉ T(2)."""
    return RigidMotions(2, proper=True, scale=scale)


def E2(scale: float = 1.0) -> RigidMotions:
    """E(2) = O(2) ⋉ T(2): rotations and reflections of the plane, with translations."""
    return RigidMotions(2, proper=False, scale=scale)


def SE3(scale: float = 1.0) -> RigidMotions:
    """SE(3) = SO(3) ⋉ T(3)."""
    return RigidMotions(3, proper=True, scale=scale)


def E3(scale: float = 1.0) -> RigidMotions:
    """E(3) = O(3) ⋉ T(3)."""
    return RigidMotions(3, proper=False, scale=scale)
