"""The GIAE image encoder: a C4 group CNN giving an invariant code and an equivariant 2-vector.

    x (B, C, S, S) ──lift, group convs, pooling──► regular fields f_0, …, f_L
        v = Σ_l Σ_q s_l(q) q̂ / n_l²                   (B, 2)   frequency-1, ψ(x) = atan2(v)
        z = MLP([pool(f_L), g(ρ)·turn_{−ψ(x)}(maps(f_L))])  (B, d)   invariant

Exactness: every operation commutes with quarter turns (the same arithmetic on permuted
inputs), the angle is split into exact quarter turns and a residual (:func:`quarter_split`), so
``z`` is invariant and ``v`` equivariant under :func:`~quotient.actions.rot90_image` up to
rounding: ~1e-7 (float32) and ~1e-16 (float64) relative to the outputs. Other angles are handled
approximately, as far as the learned fields turn with the image.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from ..actions import rot90_image, rotate_image
from ..groups import CyclicGroup
from ..symmetry import Symmetry
from .images import (
    C4GroupConv,
    C4LiftConv,
    _Block,
    c4_downsample,
    c4_vector_action,
    check_images,
)

__all__ = ["POSE_KINDS", "READOUTS", "C4Encoder", "quarter_split", "turn_2d"]

POSE_KINDS = ("dipole", "profile", "both")
"""How :class:`C4Encoder` may form its pose 2-vector (its ``pose`` argument)."""
READOUTS = ("canonical", "pool")
"""How :class:`C4Encoder` may read out its code (its ``readout`` argument)."""


def quarter_split(v: Tensor) -> tuple[Tensor, Tensor]:
    """Split the angle of 2-vectors ``v (B, 2)`` into quarter turns and a residual.

    Returns ``k (B,)`` int64 in ``{0, 1, 2, 3}`` and ``φ (B,)`` in ``[−π/4, π/4)`` with
    ``atan2(v₁, v₀) = k·π/2 + φ (mod 2π)``: ``k`` is the unique quarter turn for which
    ``r = R(−kπ/2) v`` lies in the sector ``r₀ > 0, −r₀ ≤ r₁ < r₀``, and ``φ = atan2(r₁, r₀)``.
    Turning ``v`` by a quarter turn (an exact swap and sign change) raises ``k`` by one and
    leaves ``r`` — hence ``φ`` — bit for bit unchanged, so poses built as
    ``rot90(·, k) ∘ rotate(·, φ)`` are exactly equivariant under quarter turns. ``v = 0`` gives
    ``k = 0, φ = 0``.
    """
    x, y = v[:, 0], v[:, 1]
    turned = torch.stack([torch.stack([x, y], -1), torch.stack([y, -x], -1),
                          torch.stack([-x, -y], -1), torch.stack([-y, x], -1)], 0)  # R(−kπ/2)v
    r0, r1 = turned[..., 0], turned[..., 1]  # (4, B)
    inside = (r0 > 0) & (r1 >= -r0) & (r1 < r0)
    k = torch.argmax(inside.to(torch.uint8), dim=0)  # the first (only) sector that holds v
    r = turned[k, torch.arange(v.shape[0], device=v.device)]  # (B, 2)
    return k, torch.atan2(r[:, 1], r[:, 0])


def turn_2d(theta: Tensor, v: Tensor) -> Tensor:
    """2-vectors ``v (B, 2)`` turned by the angles ``θ (B,)``, counter-clockwise."""
    c, s = torch.cos(theta.to(v.dtype)), torch.sin(theta.to(v.dtype))
    return torch.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], -1)


def _directions(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Unit vectors ``(n, n, 2)`` from the grid centre to each pixel centre, as ``(x, y)`` with
    ``x`` right and ``y`` up, divided by ``n²`` (0 at the centre pixel of an odd grid).

    A quarter turn of the grid maps the vector at each pixel to ``(−y, x)`` at the turned
    pixel, exactly (the entries are computed symmetrically in float64)."""
    c = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    y, x = torch.meshgrid(-c, c, indexing="ij")
    r = torch.sqrt(x * x + y * y)
    r = torch.where(r > 0, r, torch.ones_like(r))
    return (torch.stack([x, y], -1) / r[..., None] / (n * n)).to(dtype=dtype, device=device)


class C4Encoder(nn.Module):
    """``x (B, C, S, S) -> (z (B, latent_dim), v (B, 2))``: ``z`` invariant, ``v`` frequency-1.

    Architecture (``widths = (w₁, …, w_L)`` fields per stage): a lifting conv to ``w₁`` fields,
    then one group conv per stage with :func:`~quotient.nn.images.c4_downsample` between
    stages; ``f_0`` is the lifting output, ``f_l`` the output of stage ``l``.

    Pose vector ``v`` (``pose=``):

    * ``"dipole"`` (default): scalar maps ``s_l(q) = Σ_c b_{l,c} mean_r f_l[c, r, q]`` and
      ``v = Σ_l Σ_q s_l(q) q̂ / n_l²`` (unit vectors ``q̂`` from the grid centre). The direction
      comes from the geometry of the grid, which turns with the image for any angle as far as
      the orientation-averaged maps do: at initialisation the angle of rotated digits is already
      consistent within an orbit to about 1°.
    * ``"profile"``: ``u_r = Σ_c a_c mean_q f_L[c, r, q]``, ``v = Σ_r u_r (cos(πr/2),
      sin(πr/2))`` — the direction comes from the orientation axis (40–60° inconsistent at
      initialisation; kept for comparison). ``"both"`` adds the two.

    Code ``z`` (``readout=``): the last stage's orientation profile ``p (B, C, 4)`` (spatial
    mean) gives exact invariants ``[mean_r p, max_r p]``; with ``"canonical"`` (default) the
    orientation-averaged maps of the last stage are also turned back by the pose
    (``rot90(·, −k)`` then ``rotate_image(·, −φ)``) and flattened — a read-out in the frame of
    the canonical element, which keeps the spatial layout that pooling loses. Near inputs whose
    pose is undefined (``v ≈ 0``) this read-out is discontinuous, so it is weighted by
    ``g(ρ) = ρ²/(ρ² + τ²)`` with the anisotropy ``ρ = |v| / Σ_l Σ_q |s_l(q)|/n_l² ∈ [0, 1]``
    and ``τ = gate``: ``z`` is continuous everywhere, and the rounding of ``v`` (relative error
    ~1e-7/ρ in float32) moves ``z`` by at most ~1e-7/(2τ). An MLP maps the concatenation to
    ``z``.

    Args:
        in_channels: image channels.
        latent_dim: size of ``z``.
        widths: fields per stage (each field costs 4 channels).
        kernel_size: odd filter size.
        image_size: expected input size (checked); required for ``readout="canonical"``.
        norm: batch normalisation per field (statistics pooled over orientations and space).
        hidden: width of the MLP that maps the invariants to ``z``.
        pose: ``"dipole"``, ``"profile"`` or ``"both"``.
        readout: ``"canonical"`` or ``"pool"`` (pooled invariants only).
        gate: ``τ`` of the read-out weight (``0``: no weight; only with the dipole pose).
        refine: canonicalise the input before encoding it (0: off). With ``refine=1`` a first
            pass (no gradient) estimates the angle ``θ₁ = k₁·π/2 + φ₁`` (:func:`quarter_split`),
            the image is turned back, ``x₁ = rotate_image(−φ₁, rot90(−k₁, x))``, and the
            second pass on ``x₁`` gives ``z`` and the residual vector ``v₂``, composed into
            ``v = R(k₁π/2) R(φ₁) v₂``. Why: the fields of a C4 network follow a turn of the
            image only approximately at angles between quarter turns, so ``θ₁`` is off by an
            error ``ε(α)`` that depends on the turn ``α``; the second pass sees the image
            already turned back to within ``ε`` of its canonical orientation, where a small
            turn is followed almost exactly, so ``v₂`` cancels ``ε`` to first order, and ``z``
            is read from nearly the same image for every turn of the input. Exactness under
            quarter turns is kept: ``k₁`` shifts by one and ``φ₁`` is bit for bit the same, so
            ``x₁`` is the same image. Costs one extra forward pass without gradient.
    """

    symmetry = Symmetry(CyclicGroup(4), rot90_image, output=(None, c4_vector_action),
                        note="exact under quarter turns: z invariant, v turns with the image")

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (8, 16, 32), kernel_size: int = 3,
                 image_size: int | None = 28, norm: bool = True, hidden: int = 128,
                 pose: str = "dipole", readout: str = "canonical", gate: float = 0.02,
                 refine: int = 0) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one stage")
        if pose not in POSE_KINDS:
            raise ValueError(f"pose must be one of {POSE_KINDS}, got {pose!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if readout == "canonical" and image_size is None:
            raise ValueError("readout='canonical' needs a fixed image_size")
        if gate < 0:
            raise ValueError(f"gate must be >= 0, got {gate}")
        if refine not in (0, 1):
            raise ValueError(f"refine must be 0 (off) or 1 (one canonicalising pass), got "
                             f"{refine!r}")
        self.refine = int(refine)
        self.pose_kind, self.readout, self.gate = pose, readout, gate
        self.in_channels, self.latent_dim, self.image_size = in_channels, latent_dim, image_size
        self.widths = tuple(widths)
        blocks = [_Block(C4LiftConv(in_channels, widths[0], kernel_size), widths[0], norm)]
        prev = widths[0]
        for w in widths:
            blocks.append(_Block(C4GroupConv(prev, w, kernel_size), w, norm))
            prev = w
        self.blocks = nn.ModuleList(blocks)
        n_in = 2 * prev
        if readout == "canonical":
            assert image_size is not None
            n = image_size
            for _ in range(len(widths) - 1):
                n = (n + 1) // 2
            n_in += prev * n * n
        self.head = nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(),
                                  nn.Linear(hidden, latent_dim))
        self.pose = nn.Linear(prev, 1, bias=False) if pose in ("profile", "both") else None
        self.dipole = (nn.ParameterList(nn.Parameter(torch.randn(w) / math.sqrt(w))
                                        for w in (widths[0], *widths))
                       if pose in ("dipole", "both") else None)
        angles = torch.arange(4, dtype=torch.float64) * (math.pi / 2)
        # exact quarter-turn phasors: cos, sin of 0, π/2, π, 3π/2 rounded to integers
        self.register_buffer("phasors", torch.stack([angles.cos(), angles.sin()], -1).round()
                             .float(), persistent=False)

    def stages(self, x: Tensor) -> list[Tensor]:
        """Regular fields ``f_0, …, f_L`` (after the lifting conv and after every stage)."""
        f = self.blocks[0](x)
        out = [f]
        for i, block in enumerate(self.blocks[1:]):
            f = block(f if i == 0 else c4_downsample(f))
            out.append(f)
        return out

    def features(self, x: Tensor) -> Tensor:
        """Regular fields of the last stage, ``(B, 4·w_L, h, h)``."""
        return self.stages(x)[-1]

    def pose_vector(self, fs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """``v (B, 2)`` and the anisotropy ``ρ (B,)`` in ``[0, 1]`` from the stage outputs."""
        f = fs[-1]
        b = f.shape[0]
        v = f.new_zeros(b, 2)
        mass = f.new_zeros(b)
        if self.pose is not None:
            p = f.view(b, -1, 4, f.shape[-2] * f.shape[-1]).mean(-1)
            u = self.pose(p.transpose(1, 2)).squeeze(-1)  # (B, 4)
            v = v + u @ self.phasors.to(u.dtype)
            mass = mass + u.abs().sum(-1)
        if self.dipole is not None:
            for g, weight in zip(fs, self.dipole, strict=True):
                n = g.shape[-1]
                q = g.view(b, -1, 4, n, n).mean(2)  # orientation-averaged fields (B, C, n, n)
                s = torch.einsum("bchw,c->bhw", q, weight)
                d = _directions(n, g.dtype, g.device)
                v = v + torch.einsum("bhw,hwd->bd", s, d)
                mass = mass + torch.einsum("bhw,hw->b", s.abs(), d.norm(dim=-1))
        rho = v.norm(dim=-1) / mass.clamp_min(torch.finfo(mass.dtype).tiny)
        return v, rho.clamp(max=1.0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        if not self.refine:
            return self._encode(x)
        k1, phi1 = self._first_estimate(x)
        z, v2 = self._encode(rotate_image(-phi1, rot90_image(-k1, x)))
        return z, c4_vector_action(k1, turn_2d(phi1, v2))

    def _first_estimate(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``k₁, φ₁`` of the first pass, computed in float64 without gradient.

        Why float64: a quarter turn of the input permutes the pixels exactly, but the
        convolutions sum in another order, so in float32 the first estimate of a turned image
        differs by ~1e-7; where ``θ₁`` lies within that of a sector boundary (``φ₁ ≈ ±45°``)
        ``k₁`` flips, and the turned-back image is resampled at ``+45°`` instead of ``−45°``,
        moving ``z`` by ~1e-5. In float64 such flips need a tie to ~1e-16. Batch statistics and
        running averages are those of the float32 module (the copy's are discarded)."""
        with torch.no_grad():
            if x.dtype == torch.float64:
                v1 = self.pose_vector(self.stages(x))[0]
            else:  # a float64 copy of the weights (small next to a training step)
                shadow = copy.deepcopy(self).double()
                v1 = shadow.pose_vector(shadow.stages(x.double()))[0].to(x.dtype)
        return quarter_split(v1)

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        fs = self.stages(x)
        f = fs[-1]
        b, n = f.shape[0], f.shape[-1]
        v, rho = self.pose_vector(fs)
        p = f.view(b, -1, 4, n * n).mean(-1)  # (B, C, 4)
        parts = [p.mean(-1), p.amax(-1)]
        if self.readout == "canonical":
            maps = f.view(b, -1, 4, n, n).mean(2)  # (B, C, n, n), turn with the image
            k, phi = quarter_split(v)
            # undo the pose: exact quarter turns first, then the residual |φ| ≤ 45°
            turned = rotate_image(-phi, rot90_image(-k, maps)).flatten(1)
            if self.gate > 0:
                turned = turned * (rho * rho / (rho * rho + self.gate ** 2))[:, None]
            parts.append(turned)
        return self.head(torch.cat(parts, -1)), v

    def encode(self, x: Tensor) -> Tensor:
        """Only the invariant code ``z``."""
        return self(x)[0]
