"""The GIAE volume encoder: an O group CNN giving an invariant code and two equivariant
3-vectors.

    x (B, C, n, n, n) ──strided lift, separable group convs──► f (B, F, 24, m, m, m)
    p = mean over space of f                        (B, F, 24)   p(u·x)[c, g] = p(x)[c, u⁻¹g]
    z = MLP([mean_g p, max_g p])                    (B, d)       invariant
    s_k[g] = Σ_c a_{k,c} p[c, g],  k = 1, 2         (B, 2, 24)
    v_k = Σ_g s_k[g] · R_g e_k                      (B, 2, 3)    v_k(u·x) = R_u v_k(x)

The vectors are equivariant because re-indexing the sum by ``g ↦ u g`` turns
``Σ_g s_k[u⁻¹g] R_g e_k`` into ``R_u Σ_g s_k[g] R_g e_k``. Every step is exact arithmetic on
permuted inputs, so ``z`` is invariant and ``v`` equivariant under the 24 rotations of the cube
up to rounding; under other rotations approximately, as far as the learned features follow the
trilinearly resampled volume.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..actions.volumes import cube_rotate_volume, rotate_vectors
from ..groups.cube import CubeRotations
from ..symmetry import Symmetry
from .volumes import (
    CubeGroupConv3d,
    CubeLiftConv3d,
    CubeSpatialConv3d,
    FieldNorm,
    _tables,
    check_volumes,
)

__all__ = ["CubeEncoder"]


class _Stage(nn.Module):
    """``[spatial conv (k, stride), norm, SiLU, group mixing (k=1), norm, SiLU]`` on regular
    fields: a separable group convolution."""

    def __init__(self, fin: int, fout: int, kernel_size: int, norm: bool,
                 stride: int = 1) -> None:
        super().__init__()
        self.spatial = CubeSpatialConv3d(fin, fout, kernel_size, stride=stride)
        self.mix = CubeGroupConv3d(fout, fout, 1)
        self.norm1 = FieldNorm(fout) if norm else nn.Identity()
        self.norm2 = FieldNorm(fout) if norm else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, f: Tensor) -> Tensor:
        f = self.act(self.norm1(self.spatial(f)))
        return self.act(self.norm2(self.mix(f)))


class CubeEncoder(nn.Module):
    """``x (B, C, n, n, n) -> (z (B, latent_dim), v (B, 2, 3))``: ``z`` invariant, ``v`` two
    equivariant 3-vectors (for a Gram–Schmidt frame).

    Architecture: a lifting conv (4³ filters, stride 2) to ``widths[0]`` fields on an
    ``(n/2)³`` grid, then for every further width a separable group convolution
    (:class:`~quotient.nn.volumes.CubeSpatialConv3d`, then a 1×1×1
    :class:`~quotient.nn.volumes.CubeGroupConv3d`) — with 4³ filters and stride 2 for all but
    the last, which keeps its grid and uses ``kernel_size`` — SiLU after each, per-field batch
    normalisation with ``norm``. Striding (rather than convolving on the full grid and
    pooling) keeps the 24-fold channels on coarse grids, where they are affordable on a CPU; a
    stride-2 filter centred on 2×2×2 blocks keeps the sampled points symmetric. The grid size
    must be divisible by ``2^max(1, len(widths) − 1)``. Each field costs 24 channels.

    Args:
        in_channels: voxel channels.
        latent_dim: size of ``z``.
        widths: fields per stage.
        kernel_size: odd filter size.
        size: expected grid size ``n`` (checked).
        norm: batch normalisation per field.
        hidden: width of the MLP that maps the pooled invariants to ``z``.
    """

    symmetry = Symmetry(CubeRotations(), cube_rotate_volume, output=(None, rotate_vectors),
                        note="exact under the 24 rotations of the cube: z invariant, the two "
                             "vectors turn with the volume")

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (4, 8, 8), kernel_size: int = 3, size: int = 16,
                 norm: bool = True, hidden: int = 128) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one stage")
        halvings = max(1, len(widths) - 1)
        if size % 2 ** halvings:
            raise ValueError(f"size {size} must be divisible by 2^{halvings} (one stride-2 "
                             f"layer for the lift and each stage but the last)")
        self.in_channels, self.latent_dim, self.size = in_channels, latent_dim, size
        self.widths = tuple(widths)
        self.lift = CubeLiftConv3d(in_channels, widths[0], 4, stride=2)
        self.lift_norm = FieldNorm(widths[0]) if norm else nn.Identity()
        last = len(widths) - 2
        self.stages = nn.ModuleList(
            _Stage(a, b, kernel_size, norm) if i == last else _Stage(a, b, 4, norm, stride=2)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)))
        self.act = nn.SiLU()
        self.head = nn.Sequential(nn.Linear(2 * widths[-1], hidden), nn.SiLU(),
                                  nn.Linear(hidden, latent_dim))
        self.vectors = nn.Linear(widths[-1], 2, bias=False)
        # e₁ and e₂ of every group element: (24, 2, 3), entry [g, k] = R_g e_k
        self.register_buffer("axes", _tables()[0][:, :, :2].transpose(1, 2).float(),
                             persistent=False)

    def profile(self, x: Tensor) -> Tensor:
        """The orientation profile ``p (B, F, 24)``: the last stage averaged over space."""
        check_volumes(x, self.in_channels, self.size, type(self).__name__)
        f = self.act(self.lift_norm(self.lift(x)))
        for stage in self.stages:
            f = stage(f)
        return f.mean(dim=(-3, -2, -1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.profile(x)
        z = self.head(torch.cat([p.mean(-1), p.amax(-1)], dim=-1))
        s = self.vectors(p.transpose(1, 2))  # (B, 24, 2)
        v = torch.einsum("bgk,gkd->bkd", s, self.axes.to(s.dtype))
        return z, v

    def encode(self, x: Tensor) -> Tensor:
        """Only the invariant code ``z``."""
        return self(x)[0]
