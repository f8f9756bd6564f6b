"""Pose heads ξ for circle groups: SO(2) angles of images and cyclic shifts of signals.

Both read a group element from a frequency-1 equivariant quantity in closed form:

* :class:`SO2PoseHead` — a 2-vector ``v (B, 2)`` with ``v(ρ(φ)x) = R(φ) v(x)`` gives the angle
  ``θ = atan2(v₁, v₀)``, so ``θ(ρ(φ)x) = θ(x) + φ``. The reconstruction turns the canonical
  image by ``θ`` with :func:`~quotient.actions.rotate_image` (bilinear, differentiable in θ).
* :class:`ShiftPoseHead` — a translation-equivariant map ``y (B, L)`` (``y(k·x) = roll(y(x), k)``)
  gives the shift from the phase of its first Fourier mode,
  ``c = Σ_t y_t e^{−2πi t/L}``, ``s = −arg(c)·L/(2π) mod L``, so ``s(k·x) = s(x) + k (mod L)``.
  The canonical signal is moved by the real shift ``s`` with :func:`fourier_shift` (exact for
  integer ``s``, band-limited interpolation otherwise, differentiable in ``s``).

Neither head has parameters: everything learned lives in the equivariant network μ before it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..actions import Action, rot90_image, rotate_image
from ..actions._core import check_batch
from ..groups import CyclicGroup, CyclicShifts
from ..symmetry import Symmetry
from .image_encoder import quarter_split, turn_2d
from .images import c4_vector_action
from .pose import Pose
from .signals import roll_map


def vector_angle_deg(a: Tensor, b: Tensor) -> Tensor:
    """The angle between 2-vectors ``a`` and ``b`` (``(B, 2)``), in degrees ``[0, 180]``."""
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = (a * b).sum(-1)
    return torch.atan2(cross, dot).abs() * (180.0 / math.pi)


def _turn_vector(theta: Tensor, v: Tensor) -> Tensor:
    check_batch(theta, v, "turn_vector")
    return turn_2d(theta, v)


turn_vector = Action("turn_vector", _turn_vector, exact=True, groups=("SO2",),
                     note="SO(2) turning 2-vectors (B, 2) by the angle θ")
"""The exact action ``turn_vector`` (for SO2): SO(2) turning 2-vectors (B, 2) by the angle θ."""


def angle_vector(theta: Tensor) -> Tensor:
    """``(cos θ, sin θ)`` (``(B, 2)``): an angle as a point of the circle, which is how the
    checker compares angles (no jump where the angle wraps around)."""
    return torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)

__all__ = ["SO2PoseHead", "ShiftPoseHead", "angle_vector", "fourier_shift", "shift_by_angle",
           "shift_phase", "turn_vector", "vector_angle_deg"]


class SO2PoseHead(nn.Module):
    """ξ for SO(2): ``v (B, 2) -> Pose(θ = atan2(v₁, v₀) (B,), x̂ = ρ(θ)·x̂₀)``.

    The angle is split as ``θ = k·π/2 + φ`` (:func:`~quotient.nn.images.quarter_split`) and the
    canonical image is turned by ``rot90(rotate_image(x̂₀, φ), k)`` — the same sampling points as
    ``rotate_image(θ, x̂₀)``, but exactly equivariant under quarter turns of the input. The
    element is ``θ = k·π/2 + φ`` in ``[−π/4, 7π/4)``.

    Args:
        margin: if positive, ``Pose.penalties["pose_small"] = mean(relu(margin − |v|))``, a
            regulariser that keeps ``v`` away from 0 where the angle is undefined; weigh it with
            ``GIAE(penalty_weights={"pose_small": w})``. 0 (the default) adds no penalty.
    """

    symmetry = Symmetry(CyclicGroup(4), c4_vector_action, output=c4_vector_action,
                        observe=lambda pose: angle_vector(pose.element),
                        note="exact under quarter turns of v: θ turns by 90°·k",
                        measure=lambda a, b: {"angle_deg": vector_angle_deg(a, b)})

    def __init__(self, margin: float = 0.0) -> None:
        super().__init__()
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = margin

    def forward(self, v: Tensor) -> Pose:
        if v.dim() != 2 or v.shape[1] != 2:
            raise ValueError(f"SO2PoseHead: expected 2-vectors (batch, 2), got {tuple(v.shape)}")
        k, phi = quarter_split(v)
        theta = phi + k.to(phi.dtype) * (math.pi / 2)
        penalties: dict[str, Tensor] = {}
        if self.margin > 0:
            penalties["pose_small"] = torch.relu(self.margin - v.norm(dim=1)).mean()

        def apply(canonical: Tensor) -> Tensor:
            return rot90_image(k, rotate_image(phi, canonical))

        def invert(x: Tensor) -> Tensor:  # exact quarter turns back first, then the residual
            return rotate_image(-phi, rot90_image(-k, x))

        return Pose(theta, apply, penalties, invert=invert)


def shift_phase(y: Tensor) -> Tensor:
    """The shift read from the first Fourier mode of ``y (B, L)``: real ``s (B,)`` in ``[0, L)``.

    ``c = Σ_t y_t e^{−2πi t/L}``; rolling ``y`` by ``k`` multiplies ``c`` by ``e^{−2πi k/L}``,
    hence ``s = −arg(c)·L/(2π)`` moves by ``k``.
    """
    n = y.shape[-1]
    t = torch.arange(n, device=y.device, dtype=y.dtype) * (2 * math.pi / n)
    re = (y * torch.cos(t)).sum(-1)
    im = -(y * torch.sin(t)).sum(-1)
    s = -torch.atan2(im, re) * (n / (2 * math.pi))
    return torch.remainder(s, n)


def fourier_shift(s: Tensor, x: Tensor) -> Tensor:
    """Shift signals ``x (B, C, L)`` right by real amounts ``s (B,)`` along the last axis.

    Multiplies the DFT by ``e^{−2πi f s / L}``, so an integer ``s`` reproduces ``torch.roll`` up
    to rounding and a fractional ``s`` interpolates the band-limited periodic signal;
    differentiable in ``s`` and ``x``. For odd ``L`` this is an action of the reals
    (``shift(a)∘shift(b) = shift(a + b)``); for even ``L`` the Nyquist term keeps only its real
    part, so at fractional ``s`` it is damped by ``|cos(πs)|`` and composition holds only for
    integer shifts.
    """
    n = x.shape[-1]
    freqs = torch.fft.rfftfreq(n, d=1.0 / n).to(device=x.device, dtype=x.dtype)  # 0..n/2
    phase = -2 * math.pi * freqs[None, :] * s[:, None].to(x.dtype) / n  # (B, F)
    rot = torch.polar(torch.ones_like(phase), phase)
    out = torch.fft.irfft(torch.fft.rfft(x, dim=-1) * rot[:, None, :], n=n, dim=-1)
    return out


def shift_by_angle(length: int) -> Action:
    """SO(2) acting on signals of ``length`` samples by real-valued (Fourier) shifts: the angle
    ``θ`` shifts by ``θ·L/2π`` cells (exact for multiples of ``2π/L``, band-limited otherwise)."""
    def act(theta: Tensor, x: Tensor) -> Tensor:
        return fourier_shift(theta.to(x.dtype) * (length / (2 * math.pi)), x)
    return Action("shift_by_angle", act, exact=False, groups=("SO2",),
                  note=f"Fourier shift of {length}-sample signals by θ·L/2π cells")


class ShiftPoseHead(nn.Module):
    """ξ for cyclic shifts: ``y (B, L) -> Pose(s (B,) real in [0, L), x̂ = fourier_shift(s, x̂₀))``.

    ``Pose.element`` is the real shift; ``round(s) mod L`` is the ℤ_L element.

    Args:
        length: the signal length ``L`` (declares the symmetry ``Z_L``; ``None``: none declared).
    """

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        self.length = length

    @property
    def symmetry(self) -> Symmetry | None:
        """``Z_L`` shifting the map ``y`` and turning the phase ``2πs/L`` (when ``L`` is set)."""
        if self.length is None:
            return None
        n = self.length

        def turn(k: Tensor, v: Tensor) -> Tensor:
            check_batch(k, v, "turn_phase")
            c, s = torch.cos(2 * math.pi * k.to(v.dtype) / n), torch.sin(
                2 * math.pi * k.to(v.dtype) / n)
            return torch.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], -1)

        return Symmetry(CyclicShifts(n), roll_map,
                        output=Action("turn_phase", turn, exact=True, groups=("Zn",)),
                        observe=lambda pose: angle_vector(pose.element * (2 * math.pi / n)),
                        note="exact under integer shifts of y: s shifts along (mod L)",
                        measure=lambda a, b: {"cells": vector_angle_deg(a, b) * (n / 360.0)})

    def forward(self, y: Tensor) -> Pose:
        if y.dim() != 2:
            raise ValueError(f"ShiftPoseHead: expected maps (batch, length), got "
                             f"{tuple(y.shape)}")
        s = shift_phase(y)
        return Pose(s, lambda canonical: fourier_shift(s, canonical), {},
                    invert=lambda x: fourier_shift(-s, x))

