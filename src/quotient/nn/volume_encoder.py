"""The GIAE volume encoder: an O group CNN giving an invariant code and equivariant 3-vectors.

    x (B, C, n, n, n) ──strided lift, separable group convs──► f (B, F, 24, m, m, m)
    p = mean over space of f                     (B, F, 24)   p(u·x)[c, g] = p(x)[c, u⁻¹g]
    q = mean over the group of f                 (B, F, m³)   q(u·x)(r) = q(x)(u⁻¹r)
    v_k = Σ_g s_k[g] R_g e_(k mod 3)                            "profile" part
        + Σ_r d_k(r) r̂ / m³                                    "dipole" part   (B, K, 3)
          with s_k[g] = Σ_c a_{k,c} p[c, g],  d_k(r) = Σ_c b_{k,c} q[c, r]
    z = MLP([mean_g p, max_g p, uᵢ·uⱼ (i ≤ j), det(uᵢ, uⱼ, u_l) (i < j < l)])   (B, d)
          with u = v / rms_k |v_k|

Equivariance of ``v``: re-indexing the profile sum by ``g ↦ u g`` turns ``Σ_g s_k[u⁻¹g] R_g e``
into ``R_u Σ_g s_k[g] R_g e``, and the dipole sum by ``r ↦ u r`` (the voxel directions ``r̂``
of a centred grid are permuted by O) turns ``Σ_r d_k(u⁻¹r) r̂`` into ``R_u Σ_r d_k(r) r̂``. The
profile part is what O determines; the dipole part points along directions of the grid
itself, which turn with the content for any rotation as far as the orientation-averaged maps
``q`` do (as the dipole pose of :class:`~quotient.nn.image_encoder.C4Encoder` in 2-d).

Pose vectors (``pose=``): ``"moments"`` (default) gives the pose from the volume's own second
and third moments about the grid centre, ``M = Σ_r x(r) r rᵀ``: ``v₁, v₂`` are the eigenvectors
of the two largest eigenvalues of ``M``, each signed so that its third moment
``Σ_r x(r) (r·e)³`` is positive. ``M(u·x) = R_u M(x) R_uᵀ``, so the eigenvectors turn with the
volume for every rotation (up to resampling), exactly to rounding for the 24; they are
undetermined only along symmetries of the solid (equal eigenvalues, vanishing third moments),
where any choice reconstructs it equally well. ``"learned"`` uses the first two learned vectors
``v_k`` instead; trained from scratch on randomly rotated solids, their frame did not follow
continuous rotations (about 120° off) and the decoder fell back to rotation-invariant blobs.
With ``"moments"`` the eigenvalues of ``M`` and the third moments of the volume in the proper
frame ``e₁, e₂, e₁ × e₂`` join the invariants of ``z``; those odd in ``e₃`` (e.g.
``Σ x (r·e₁)(r·e₂)(r·e₃)``) change sign under a reflection, which tells the chiral twins apart
from the start (they are discontinuous only where an axis' sign or order is undetermined, i.e.
at symmetries of the solid).

Invariance of ``z``: the pooled profile is invariant, and so are the inner products and the
determinants of the normalised vectors (``det R = 1``); the determinants change sign under a
reflection, so mirror-image solids (which no rotation relates) get different codes. Every step
is exact arithmetic on permuted inputs, so ``z`` is invariant and ``v`` equivariant under the
24 rotations of the cube up to rounding.
"""

from __future__ import annotations

import itertools

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

__all__ = ["POSES", "CubeEncoder", "vector_invariants"]

POSES = ("moments", "learned")
"""Where the volume encoder's pose comes from: the volume's moments or learned vectors."""


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


def _directions(m: int) -> Tensor:
    """Unit vectors ``(m³, 3)`` float64 from the centre of an ``m³`` grid to its voxel centres
    (zero at the centre voxel of an odd grid), permuted exactly by the rotations of the cube."""
    c = torch.arange(m, dtype=torch.float64) - (m - 1) / 2
    r = torch.stack(torch.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)
    norm = r.norm(dim=-1, keepdim=True)
    return r / torch.where(norm > 0, norm, torch.ones_like(norm))


def vector_invariants(v: Tensor) -> Tensor:
    """Rotation invariants of ``K`` vectors ``v (B, K, 3)``: with ``u = v / rms_k |v_k|``, the
    inner products ``uᵢ·uⱼ`` (``i ≤ j``) and the determinants ``det(uᵢ, uⱼ, u_l)``
    (``i < j < l``), ``(B, K(K+1)/2 + K(K−1)(K−2)/6)``. The determinants are pseudoscalars:
    a reflection flips their sign, so they tell mirror images apart."""
    k = v.shape[1]
    rms = v.pow(2).sum(-1).mean(-1).sqrt()
    u = v / rms.clamp_min(torch.finfo(v.dtype).tiny)[:, None, None]
    iu = torch.triu_indices(k, k)
    gram = (u @ u.transpose(1, 2))[:, iu[0], iu[1]]
    triples = list(itertools.combinations(range(k), 3))
    if not triples:
        return gram
    idx = torch.tensor(triples, device=v.device)
    det = torch.linalg.det(u[:, idx])  # (B, T): u[:, idx] is (B, T, 3, 3)
    return torch.cat([gram, det], dim=-1)


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
        vectors: ``K``, how many equivariant vectors are formed (their invariants
            (:func:`vector_invariants`) go into ``z``; with ``pose="learned"`` the first two
            give the pose), at least 2.
        pose: ``"moments"`` or ``"learned"`` (see the module notes).
    """

    symmetry = Symmetry(CubeRotations(), cube_rotate_volume, output=(None, rotate_vectors),
                        note="exact under the 24 rotations of the cube: z invariant, the two "
                             "vectors turn with the volume")

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (4, 8, 8), kernel_size: int = 3, size: int = 16,
                 norm: bool = True, hidden: int = 128, vectors: int = 6,
                 pose: str = "moments") -> None:
        super().__init__()
        if pose not in POSES:
            raise ValueError(f"pose must be one of {POSES}, got {pose!r}")
        self.pose = pose
        if vectors < 2:
            raise ValueError(f"vectors must be at least 2 (the pose needs two), got {vectors}")
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
        k = vectors
        n_inv = k * (k + 1) // 2 + k * (k - 1) * (k - 2) // 6 + (13 if pose == "moments" else 0)
        self.head = nn.Sequential(nn.Linear(2 * widths[-1] + n_inv, hidden), nn.SiLU(),
                                  nn.Linear(hidden, latent_dim))
        self.profile_weights = nn.Linear(widths[-1], k, bias=False)
        self.dipole_weights = nn.Linear(widths[-1], k, bias=False)
        # R_g e_(k mod 3) for every group element and vector: (24, K, 3)
        axes = _tables()[0][:, :, torch.arange(k) % 3].transpose(1, 2)
        self.register_buffer("axes", axes.float(), persistent=False)
        m = size // 2 ** max(1, len(widths) - 1)
        self.register_buffer("directions", (_directions(m) / m ** 3).float(),
                             persistent=False)
        c = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        grid = torch.stack(torch.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)
        self.register_buffer("points", (grid / (size / 2)).float(), persistent=False)

    def features(self, x: Tensor) -> Tensor:
        """Regular fields of the last stage, ``(B, F, 24, m, m, m)``."""
        check_volumes(x, self.in_channels, self.size, type(self).__name__)
        f = self.act(self.lift_norm(self.lift(x)))
        for stage in self.stages:
            f = stage(f)
        return f

    def all_vectors(self, f: Tensor) -> Tensor:
        """The ``K`` equivariant vectors ``(B, K, 3)`` (profile plus dipole part) of the last
        stage's fields."""
        p = f.mean(dim=(-3, -2, -1))  # (B, F, 24)
        q = f.mean(dim=2).flatten(2)  # (B, F, m³), orientation-averaged maps
        s = self.profile_weights(p.transpose(1, 2))  # (B, 24, K)
        d = self.dipole_weights(q.transpose(1, 2))  # (B, m³, K)
        return (torch.einsum("bgk,gkd->bkd", s, self.axes.to(s.dtype))
                + torch.einsum("brk,rd->bkd", d, self.directions.to(d.dtype)))

    def moment_frame(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The two moment vectors ``(B, 2, 3)`` and the moment invariants ``(B, 13)`` (see the
        module notes): the three eigenvalues of ``M`` and the ten third moments
        ``T_abc = Σ_r x(r) (r·e_a)(r·e_b)(r·e_c)`` in the frame ``e₁, e₂, e₃ = e₁ × e₂``, per
        unit mass and in units of ``tr M`` (``T`` divided by ``(tr M)^{3/2}``). The moments are
        accumulated in float64, so that the order and the signs of the axes do not flip with
        float32 rounding."""
        with torch.no_grad():  # a fixed function of the input: nothing to learn, and eigh's
            # gradient blows up at the (symmetric) solids with equal eigenvalues
            w = x.sum(1).flatten(1).double()  # (B, n³), channels summed
            r = self.points.double()
            mass = w.abs().sum(-1).clamp_min(1e-300)
            m = torch.einsum("bp,pi,pj->bij", w, r, r) / mass[:, None, None]
            lam, vec = torch.linalg.eigh(m)  # ascending
            vec = vec.flip(-1)  # largest eigenvalue first
            third = torch.einsum("bp,bpk->bk", w, (r @ vec) ** 3)
            vec = vec * torch.where(third < 0, -1.0, 1.0).to(vec.dtype)[:, None, :]
            frame = torch.stack([vec[..., 0], vec[..., 1],
                                 torch.cross(vec[..., 0], vec[..., 1], dim=-1)], dim=-1)
            c = r @ frame  # (B, n³, 3): coordinates in the proper frame
            idx = torch.tensor([(a, b, d) for a in range(3) for b in range(a, 3)
                                for d in range(b, 3)], device=c.device)  # the 10 of T
            t = torch.einsum("bp,bpk->bk", w, c[..., idx[:, 0]] * c[..., idx[:, 1]]
                             * c[..., idx[:, 2]]) / mass[:, None]
            trace = lam.sum(-1).abs().clamp_min(1e-300)
            inv = torch.cat([lam.flip(-1) / trace[:, None], t / trace[:, None] ** 1.5], dim=-1)
        return vec[:, :, :2].transpose(1, 2).to(x.dtype), inv.to(x.dtype)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.features(x)
        p = f.mean(dim=(-3, -2, -1))
        v = self.all_vectors(f)
        parts = [p.mean(-1), p.amax(-1), vector_invariants(v)]
        if self.pose == "moments":
            pose_vectors, moments = self.moment_frame(x)
            parts.append(moments)
        else:
            pose_vectors = v[:, :2]
        return self.head(torch.cat(parts, dim=-1)), pose_vectors

    def encode(self, x: Tensor) -> Tensor:
        """Only the invariant code ``z``."""
        return self(x)[0]
