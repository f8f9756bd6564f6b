"""SE(2) on images: an encoder and a pose head exact under quarter turns and integer shifts.

The translation is taken out *before* the C4 group CNN sees the image, by a parameter-free,
exactly shift-equivariant position, so that the existing quarter-turn encoder
(:class:`~quotient.nn.image_encoder.C4Encoder`, whose strided pooling and flattened read-out
are not shift-invariant) can be reused unchanged:

    x (B, C, L, L) ──torus_centroid──► t (B, 2) real, r = round(t) (B, 2) integer
                   ──torus_crop(x, r, n)──► crop (B, C, n, n)   (n odd, centred on pixel r)
                   ──C4Encoder──► z (B, d) invariant, v (B, 2) frequency-1
    pose = (θ = atan2(v₁, v₀), t);   x̂ = place_image(θ, t, δ(z))   (one affine grid_sample)

Why it is exact. The canvas is treated as a torus (indices mod ``L``): a cyclic shift by an
integer ``s`` moves ``t`` by exactly ``s`` (see :func:`torus_centroid`) and so the crop is
the *same array* (bit for bit); a quarter turn about the canvas centre maps the pixel ``r`` to
the turned pixel and the crop to its quarter turn (``n`` odd, so the crop is centred on a
pixel, which the turn maps to a pixel), which the C4 encoder absorbs exactly. For a digit on a
zero background that stays on the canvas, a cyclic shift *is* the translation, hence ``z`` is
invariant under quarter turns about the centre and under integer translations that keep the
digit on the canvas (float64 ~1e-16; only ties of the rounding, a set of measure zero, break
it). No strided layer ever sees a shifted input: the crop is.

The group is :class:`~quotient.groups.turns_shifts.QuarterTurnsShifts2d` acting on images by
:data:`turn_shift_image`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import Action, disc_mask, roll_image, rot90_image
from ..actions._core import check_batch
from ..groups.turns_shifts import QuarterTurnsShifts2d, turn_shift_vector
from ..symmetry import Symmetry
from .image_encoder import C4Encoder, quarter_split
from .images import c4_vector_action, check_images
from .pose import Pose
from .pose_so2 import angle_vector, shift_phase, vector_angle_deg

__all__ = ["SE2CropEncoder", "SE2PoseHead", "place_image", "position_vector",
           "torus_centroid", "torus_crop", "turn_shift_image", "turn_shift_position"]

_GROUPS = ("C4⋉Z2d",)


# --------------------------------------------------------------------------- actions
def _turn_shift(g: Tensor, x: Tensor) -> Tensor:
    if g.dim() != 2 or g.shape[-1] != 3:
        raise ValueError(f"turn_shift_image needs elements (k, dy, dx) of shape (batch, 3), "
                         f"got {tuple(g.shape)}")
    check_batch(g, x, "turn_shift_image")
    g = g.long()
    return roll_image(g[:, 1:], rot90_image(g[:, 0], x))


turn_shift_image = Action(
    "turn_shift_image", _turn_shift, exact=True, groups=_GROUPS,
    note="k quarter turns about the centre (torch.rot90), then a cyclic shift by (dy, dx); a "
         "translation for content that stays on the canvas")

"""Quarter turns about the canvas centre, then integer cyclic shifts: the exact action of
:class:`~quotient.groups.turns_shifts.QuarterTurnsShifts2d` on images ``(B, C, H, W)``."""


def turn_shift_position(g: Tensor, t: Tensor, size: int) -> Tensor:
    """Positions ``t (B, 2)`` (row, column; real, mod ``size``) moved by ``g = (k, dy, dx)``:
    ``c + R₀^k (t − c) + s mod size`` with ``c = (size − 1)/2`` the canvas centre."""
    g = g.to(torch.long)
    c = (size - 1) / 2
    turned = turn_shift_vector(g[:, 0], t - c) + c
    return torch.remainder(turned + g[:, 1:].to(t.dtype), size)


def position_vector(t: Tensor, size: int) -> Tensor:
    """Positions mod ``size`` as points of two circles, ``(cos, sin)(2π t_y/L), (cos, sin)(2π
    t_x/L)`` (``(B, 4)``): what the checker compares (no jump where a position wraps)."""
    a = t * (2 * math.pi / size)
    return torch.stack([a[:, 0].cos(), a[:, 0].sin(), a[:, 1].cos(), a[:, 1].sin()], -1)


def _position_from_vector(e: Tensor, size: int) -> Tensor:
    a = torch.stack([torch.atan2(e[:, 1], e[:, 0]), torch.atan2(e[:, 3], e[:, 2])], -1)
    return torch.remainder(a * (size / (2 * math.pi)), size)


def torus_distance(a: Tensor, b: Tensor, size: int) -> Tensor:
    """Euclidean distance ``(B,)`` between positions ``(B, 2)`` on the ``size × size`` torus."""
    d = torch.remainder(a - b + size / 2, size) - size / 2
    return d.norm(dim=-1)


# --------------------------------------------------------------------------- translation
def torus_centroid(x: Tensor) -> tuple[Tensor, Tensor]:
    """An exactly shift-equivariant position of images ``x (B, C, L, L)``.

    With ``m = Σ_c |x_c|`` and its marginals ``m_y (B, L)`` (rows) and ``m_x`` (columns):

    1. a coarse position ``t₀`` per axis from the phase of the first Fourier mode of the
       marginal (:func:`~quotient.nn.pose_so2.shift_phase`): cyclic shifts move it exactly
       along, ``t₀(roll_s x) = t₀(x) + s mod L``;
    2. ``r₀ = round(t₀)`` and the intensity centroid ``δ = Σ_u u·m(r₀ + u) / Σ_u m(r₀ + u)`` of
       the marginal in a window ``u ∈ [−h, h]`` (``h = ⌊(L − 1)/2⌋``) around ``r₀`` — the window
       moves with ``r₀``, so ``δ`` is *bit for bit* the same for every cyclic shift;
    3. ``t = r₀ + δ mod L`` (real) and the pixel ``r = r₀ + round(δ) mod L`` (integer).

    Under ``roll_s``: ``t ↦ t + s`` (up to the rounding of one addition) and ``r ↦ r + s``
    exactly. Under a quarter turn about the centre a marginal is reversed, which maps the
    phase and the centroid onto the turned ones up to rounding (~1e-16), so ``r`` moves with
    the turn except at rounding ties (measure zero). For a digit on a zero background ``t`` is
    its intensity centroid (when it lies within ``h`` cells of ``r₀``).

    Returns:
        ``t`` (B, 2) in ``[0, L)`` (rows, columns; pixel-index coordinates, pixel centres at
        integers) and ``r`` (B, 2) int64.
    """
    if x.dim() != 4:
        raise ValueError(f"torus_centroid: expected images (batch, channels, H, W), got "
                         f"{tuple(x.shape)}")
    n = x.shape[-1]
    m = x.abs().sum(1)
    marginals = torch.stack([m.sum(-1), m.sum(-2)], 1)  # (B, 2, L)
    t0 = shift_phase(marginals)  # (B, 2) in [0, L)
    r0 = torch.remainder(torch.round(t0).long(), n)
    h = (n - 1) // 2
    u = torch.arange(-h, h + 1, device=x.device)
    window = torch.gather(marginals, 2, torch.remainder(r0[..., None] + u, n))  # (B, 2, 2h+1)
    mass = window.sum(-1)
    delta = (window * u.to(x.dtype)).sum(-1) / mass.clamp_min(torch.finfo(x.dtype).tiny)
    t = torch.remainder(r0.to(x.dtype) + delta, n)
    r = torch.remainder(r0 + torch.round(delta).long(), n)
    return t, r


def torus_crop(x: Tensor, centre: Tensor, size: int) -> Tensor:
    """The ``size × size`` window of ``x (B, C, L, L)`` centred on the pixels ``centre (B, 2)``
    (integer), indices taken mod ``L``: ``out[b, :, a, c] = x[b, :, r_y + a − h, r_x + c − h]``
    with ``h = (size − 1)/2``. ``size`` must be odd (a window centred on a pixel, which a
    quarter turn maps onto the turned window). Pure indexing: no arithmetic on the values."""
    if size % 2 == 0:
        raise ValueError(f"torus_crop: size must be odd (centred on a pixel), got {size}")
    n = x.shape[-1]
    h = (size - 1) // 2
    u = torch.arange(-h, h + 1, device=x.device)
    idx = torch.remainder(centre.long()[..., None] + u, n)  # (B, 2, size)
    b = torch.arange(x.shape[0], device=x.device)[:, None, None]
    out = x.permute(0, 2, 3, 1)[b, idx[:, 0, :, None], idx[:, 1, None, :]]
    return out.permute(0, 3, 1, 2)


# --------------------------------------------------------------------------- placement
def place_image(theta: Tensor, t: Tensor, canonical: Tensor, size: int) -> Tensor:
    """Turn ``canonical (B, C, n, n)`` by ``θ (B,)`` (counter-clockwise as displayed) about its
    centre and put that centre at ``t (B, 2)`` (row, column) of a ``size × size`` canvas taken
    as a torus: one bilinear ``grid_sample`` (differentiable in ``θ``, ``t`` and the image).

    Output pixel ``p`` reads the canonical image at ``c_n + R(−θ)·wrap(p − t)`` (display
    coordinates: ``x`` right, ``y`` up; ``wrap`` maps offsets into ``[−L/2, L/2)``), so with
    ``size = n``, ``t`` at the centre and ``θ`` a quarter turn this is ``torch.rot90``. The
    canonical image is cut to its inscribed disc first, so its turned support is the same disc
    for every angle and stays inside one period of the torus (``n + 4 ≤ size``).
    """
    b, _, n, n2 = canonical.shape
    if n != n2:
        raise ValueError(f"place_image: the canonical image must be square, got {n}x{n2}")
    dtype = canonical.dtype
    idx = torch.arange(size, dtype=dtype, device=canonical.device)
    t = t.to(dtype)
    di = torch.remainder(idx[None, :, None] - t[:, 0, None, None] + size / 2, size) - size / 2
    dj = torch.remainder(idx[None, None, :] - t[:, 1, None, None] + size / 2, size) - size / 2
    c = torch.cos(theta.to(dtype))[:, None, None]
    s = torch.sin(theta.to(dtype))[:, None, None]
    # display offset (x, y) = (dj, −di); canonical offset q = R(−θ)(x, y); grid_sample's
    # normalised coordinates (align_corners=False) are 2q/n, with y pointing down
    gx = (c * dj - s * di) * (2 / n)
    gy = (s * dj + c * di) * (2 / n)
    grid = torch.stack([gx, gy], -1)
    masked = canonical * disc_mask(n, n, dtype=dtype, device=canonical.device)
    return F.grid_sample(masked, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


# --------------------------------------------------------------------------- symmetry pieces
def _vector_part(g: Tensor, v: Tensor) -> Tensor:
    return c4_vector_action(g[:, 0], v)


def _position_part(size: int) -> Action:
    def act(g: Tensor, e: Tensor) -> Tensor:
        return position_vector(turn_shift_position(g, _position_from_vector(e, size), size),
                               size)

    return Action("turn_shift_position", act, exact=True, groups=_GROUPS,
                  note="positions on the torus, as circle points, turned about the centre "
                       "and shifted")


def _pose_observed(size: int) -> Action:
    """The action on observed poses ``(cos θ, sin θ, position_vector(t))`` ``(B, 6)``."""
    position = _position_part(size)

    def act(g: Tensor, e: Tensor) -> Tensor:
        return torch.cat([c4_vector_action(g[:, 0], e[:, :2]), position(g, e[:, 2:])], -1)

    return Action("turn_shift_pose", act, exact=True, groups=_GROUPS,
                  note="θ turns by 90°·k; t turns about the centre and shifts")


def _pose_measure(size: int) -> Any:
    def measure(a: Tensor, b: Tensor) -> dict[str, Tensor]:
        return {"angle_deg": vector_angle_deg(a[:, :2], b[:, :2]),
                "shift_px": torus_distance(_position_from_vector(a[:, 2:], size),
                                           _position_from_vector(b[:, 2:], size), size)}
    return measure


def rotate_pose_observed(size: int) -> Action:
    """SO(2) (real angles ``φ (B,)``) on observed poses ``(B, 6)``: ``θ + φ`` and ``t`` turned
    by ``φ`` about the canvas centre — the pose action matching
    :func:`~quotient.actions.rotate_image` on the canvas (the approximate symmetry)."""
    def act(phi: Tensor, e: Tensor) -> Tensor:
        c, s = torch.cos(phi.to(e.dtype)), torch.sin(phi.to(e.dtype))
        a = torch.stack([c * e[:, 0] - s * e[:, 1], s * e[:, 0] + c * e[:, 1]], -1)
        centre = (size - 1) / 2
        d = _position_from_vector(e[:, 2:], size) - centre
        x, y = d[:, 1], -d[:, 0]  # display coordinates
        xr, yr = c * x - s * y, s * x + c * y
        t = torch.stack([centre - yr, centre + xr], -1)
        return torch.cat([a, position_vector(t, size)], -1)

    return Action("rotate_pose", act, exact=True, groups=("SO2",),
                  note="θ + φ; t turned by φ about the canvas centre")


# --------------------------------------------------------------------------- modules
class SE2CropEncoder(nn.Module):
    """``x (B, C, L, L) -> (z (B, d), (v (B, 2), t (B, 2)))``: the C4 encoder on the window of
    ``crop_size`` (odd) pixels centred on the image's shift-equivariant position.

    ``z`` is invariant and ``v`` turns with the image under
    :class:`~quotient.groups.turns_shifts.QuarterTurnsShifts2d` (``L``); ``t`` moves with it
    (:func:`turn_shift_position`). See the module docstring for why this is exact.

    Args:
        inner: the quarter-turn encoder, built for ``crop_size`` images (default: a
            :class:`~quotient.nn.image_encoder.C4Encoder` with ``**kwargs``).
        canvas: ``L``, the side of the input images.
        crop_size: odd side of the window, at most ``L`` (it should hold the whole object).
        in_channels: image channels.
    """

    def __init__(self, canvas: int = 40, crop_size: int = 25, in_channels: int = 1,
                 inner: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__()
        if crop_size % 2 == 0 or crop_size < 3:
            raise ValueError(f"crop_size must be odd and >= 3 (a window centred on a pixel), "
                             f"got {crop_size}")
        if crop_size > canvas:
            raise ValueError(f"crop_size {crop_size} exceeds the canvas {canvas}; use a window "
                             "at most as large as the image")
        self.canvas, self.crop_size, self.in_channels = canvas, crop_size, in_channels
        self.inner = inner if inner is not None else C4Encoder(
            in_channels, image_size=crop_size, **kwargs)
        self.latent_dim = getattr(self.inner, "latent_dim", None)

    @property
    def symmetry(self) -> Symmetry:
        """``z`` invariant, ``v`` turning by ``k`` quarter turns, ``t`` turned and shifted."""
        size = self.canvas
        vector = Action("c4_vector_part", _vector_part, exact=True, groups=_GROUPS,
                        note="the quarter-turn part k turns the 2-vector")
        return Symmetry(QuarterTurnsShifts2d(size), turn_shift_image,
                        output=(None, vector, _position_part(size)),
                        observe=lambda out: (out[0], out[1][0], position_vector(out[1][1], size)),
                        note="exact under quarter turns about the centre and cyclic shifts "
                             "(translations of content that stays on the canvas)")

    def locate(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(t, r, crop)``: the position, its pixel and the window the C4 encoder sees."""
        check_images(x, self.in_channels, self.canvas, type(self).__name__)
        t, r = torus_centroid(x)
        return t, r, torus_crop(x, r, self.crop_size)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        t, _, crop = self.locate(x)
        z, v = self.inner(crop)
        return z, (v, t)


class SE2PoseHead(nn.Module):
    """ξ for C4 ⋉ ℤ²: ``(v (B, 2), t (B, 2)) -> Pose(element (θ, t_y, t_x) (B, 3),
    x̂ = place_image(θ, t, x̂₀))`` with ``θ = k·π/2 + φ`` from
    :func:`~quotient.nn.image_encoder.quarter_split` (in ``[−π/4, 7π/4)``).

    No parameters. Declares ``ξ(g·y) = g∘ξ(y)`` for ``g`` in
    :class:`~quotient.groups.turns_shifts.QuarterTurnsShifts2d` (``canvas``), observed as
    ``(cos θ, sin θ, position_vector(t))``; its measure reports the angle error in degrees and
    the position error in pixels (on the torus).
    """

    def __init__(self, canvas: int = 40) -> None:
        super().__init__()
        self.canvas = canvas

    @property
    def symmetry(self) -> Symmetry:
        size = self.canvas

        def act(g: Tensor, y: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            v, t = y
            return c4_vector_action(g[:, 0], v), turn_shift_position(g, t, size)

        return Symmetry(QuarterTurnsShifts2d(size),
                        Action("turn_shift_features", act, exact=True, groups=_GROUPS,
                               note="v turned by k; t turned about the centre and shifted"),
                        output=_pose_observed(size), observe=self.observe,
                        note="exact: θ turns by 90°·k, t moves with the image",
                        measure=_pose_measure(size))

    def observe(self, pose: Pose) -> Tensor:
        """``(cos θ, sin θ, position_vector(t))`` ``(B, 6)`` of a pose."""
        e = pose.element
        return torch.cat([angle_vector(e[:, 0]), position_vector(e[:, 1:], self.canvas)], -1)

    def forward(self, features: tuple[Tensor, Tensor]) -> Pose:
        v, t = features
        if v.dim() != 2 or v.shape[1] != 2 or t.shape != v.shape:
            raise ValueError(f"SE2PoseHead: expected (v (batch, 2), t (batch, 2)), got "
                             f"{tuple(v.shape)} and {tuple(t.shape)}")
        k, phi = quarter_split(v)
        theta = phi + k.to(phi.dtype) * (math.pi / 2)
        size = self.canvas
        element = torch.cat([theta[:, None], t.to(theta.dtype)], -1)
        return Pose(element, lambda canonical: place_image(theta, t, canonical, size))
