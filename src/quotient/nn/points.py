"""E(d)/SE(d) × S_n-equivariant networks for point clouds and molecules, d ∈ {2, 3}.

Inputs: positions ``x (B, n, d)`` (points in the plane, d = 2, or in space, d = 3),
optionally with a boolean ``mask (B, n)`` of real points (variable sizes padded to ``n``) or
with integer atom types ``(B, n)`` (``−1`` marks padding), passed as a tuple ``(x, mask)`` /
``(x, types)``. Nothing here sees the index or the input order of a point: every per-point
quantity is computed from geometry and types only.

:class:`EGNNLayer` (Satorras et al. 2021), over all pairs of real points ``j ≠ i``::

    m_ij = φ_e(h_i, h_j, |x_i − x_j|²)
    x'_i = x_i + 1/(k−1) Σ_j (x_i − x_j) / (|x_i − x_j| + 1) · φ_x(m_ij)
    h'_i = h_i + φ_h(h_i, Σ_j m_ij)

``h`` is E(d)-invariant and permutation-equivariant, ``x'`` E(d)- and permutation-equivariant.

:class:`PointCloudEncoder` combines them with the anchor frame of
:mod:`~quotient.nn.pose_rigid`: frame coordinates ``y_i = R₀ᵀ(x_i − t)`` are invariant (under
SE(d), or E(d) with ``proper=False``) and permutation-equivariant; per-point scores
``s_i = MLP(y_i, h_i)`` feed the permutation pose; the code is either ``z = MLP(S·y)`` (the
frame coordinates in the canonical order of the hard or relaxed sort ``S``, ``z_from="sorted"``)
or ``z = ρ(Σ_i φ(y_i, h_i))`` (``z_from="pooled"``, any number of points). With
``frame_blend > 0`` the code is ``z = Σ_k w_k z_k`` over the candidate anchor frames of
:func:`~quotient.nn.pose_rigid.anchor_candidates` (``z_k`` computed in frame ``k`` with its
own sort), so it is continuous across ties of the anchor points; the pose is always that of
the single argmax frame. Ties of the scores (the hard sort) are not blended.

In the plane the frame is ``R₀ = [u, J u]`` (SE(2); ``u`` the unit vector to the farthest
point, ``J`` the turn by +90°) or ``[u, ±J u]`` with the sign from the side of the axis of the
point farthest from it (E(2), mirror images identified), see :mod:`~quotient.nn.pose_frames`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import permute_point_features, rigid_motion_and_permute_points
from ..groups import RigidMotions, SymmetricGroup, product
from ..symmetry import Symmetry
from .pose_frames import SUPPORTED_DIMS, check_dim
from .pose_perm import PermutationPose
from .pose_rigid import PointFeatures, anchor_candidates, point_features_action
from .sets import check_mask, masked_pool, mlp

__all__ = ["EGNN", "EGNNLayer", "PointCloudEncoder", "check_points", "split_point_input"]


def check_points(x: Tensor, mask: Tensor | None = None, what: str = "points") -> Tensor:
    """Validate positions ``(B, n, d)``, d ∈ {2, 3}, and return the boolean mask of real points.

    Raises:
        ValueError: wrong shape (not ``(batch, n_points, 3)`` or ``(batch, n_points, 2)``), no
            points, NaN/inf coordinates at real points, or a bad mask.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected positions as a tensor (batch, n_points, 3) or "
                        f"(batch, n_points, 2), got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{what}: coordinates must have shape (batch, n_points, 3) or "
                         f"(batch, n_points, 2), got {tuple(x.shape)}; add a batch axis with "
                         "x[None]")
    if x.shape[-1] not in SUPPORTED_DIMS:
        hint = ("; transpose (batch, d, n) inputs with x.transpose(1, 2)"
                if x.shape[1] in SUPPORTED_DIMS else "")
        raise ValueError(f"{what}: coordinates must have shape (batch, n_points, 3) or "
                         f"(batch, n_points, 2) (points of dimension d = 2 or 3), got "
                         f"{tuple(x.shape)}: points of dimension {x.shape[-1]}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"{what}: coordinates must be floating point, got {x.dtype}")
    if x.shape[1] == 0:
        raise ValueError(f"{what}: empty point clouds (n_points = 0) cannot be encoded; every "
                         "cloud needs at least one point")
    return check_mask(x, mask, what, element="point", group="point cloud")


def split_point_input(x: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None,
                                                                   Tensor | None]:
    """``x``, ``(x, mask)`` (bool) or ``(x, types)`` (int, −1 = padding), ``x (B, n, d)`` ->
    ``(positions, mask or None, types or None)``."""
    if isinstance(x, Tensor):
        return x, None, None
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError("point input must be positions (B, n, d), (positions, mask) or "
                        "(positions, atom types)")
    pos, extra = x
    if not isinstance(extra, Tensor):
        raise TypeError(f"second element of the point input must be a tensor, got "
                        f"{type(extra).__name__}")
    if extra.dtype == torch.bool:
        return pos, extra, None
    if extra.is_floating_point():
        raise ValueError("the second element must be a boolean mask or integer atom types "
                         f"(-1 = padding), got {extra.dtype}")
    if extra.shape != pos.shape[:2]:
        raise ValueError(f"atom types {tuple(extra.shape)} do not match positions "
                         f"{tuple(pos.shape)}; expected (batch, n_points)")
    return pos, extra >= 0, extra


def rigid_group(proper: bool) -> Any:
    """``x -> SE(d) × S_n`` (or ``E(d) × S_n``) for point input ``x`` (``(B, n, d)`` or a
    tuple whose first part is that)."""
    def group(x: Any) -> Any:
        pos = x[0] if isinstance(x, (tuple, list)) else x
        return product(RigidMotions(pos.shape[-1], proper=proper), SymmetricGroup(pos.shape[1]))
    return group


class EGNNLayer(nn.Module):
    """One E(n)-equivariant message-passing layer over all pairs of real points.

    The first layer of φ_e acts on ``[h_i, h_j, d²_ij]``; it is applied as
    ``A h_i + B h_j + c d²_ij`` (the same linear map, split), so its cost is per point rather
    than per pair.
    """

    def __init__(self, hidden: int, update_coords: bool = True) -> None:
        super().__init__()
        self.edge_i = nn.Linear(hidden, hidden)
        self.edge_j = nn.Linear(hidden, hidden, bias=False)
        self.edge_d = nn.Linear(1, hidden, bias=False)
        self.edge = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.node = mlp([2 * hidden, hidden, hidden])
        self.coord = mlp([hidden, hidden, 1]) if update_coords else None

    def forward(self, h: Tensor, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        n = h.shape[1]
        diff = x[:, :, None, :] - x[:, None, :, :]  # x_i − x_j
        d2 = (diff * diff).sum(-1, keepdim=True)
        pre = self.edge_i(h)[:, :, None, :] + self.edge_j(h)[:, None, :, :] + self.edge_d(d2)
        eye = torch.eye(n, dtype=torch.bool, device=h.device)
        valid = (mask[:, :, None] & mask[:, None, :] & ~eye)[..., None].to(h.dtype)
        m = self.edge(pre) * valid
        h = (h + self.node(torch.cat([h, m.sum(dim=2)], -1))) * mask[..., None].to(h.dtype)
        if self.coord is not None:
            k = (mask.sum(dim=1).to(h.dtype) - 1).clamp_min(1.0)[:, None, None]
            dist = d2.clamp_min(1e-12).sqrt()  # no infinite gradient at coincident points
            step = diff / (dist + 1.0) * self.coord(m) * valid
            x = x + step.sum(dim=2) / k
        return h, x


class EGNN(nn.Module):
    """A stack of :class:`EGNNLayer`; ``(x (B,n,d), node features (B,n,f), mask) ->
    (h (B,n,hidden), x' (B,n,d))``, d = 2 or 3. Node features are optional (``f = 0``: a constant).
    With ``update_coords=False`` the positions stay fixed (``x' = x``): a distance-based
    invariant message-passing network, a third cheaper."""

    symmetry = Symmetry(rigid_group(False), rigid_motion_and_permute_points,
                        output=(permute_point_features, rigid_motion_and_permute_points),
                        note="exact: features reordered, coordinates moved and reordered")

    def __init__(self, node_dim: int, hidden: int = 64, layers: int = 3, n: int | None = None,
                 proper: bool = False, update_coords: bool = True) -> None:
        super().__init__()
        self.node_dim = node_dim
        self.embed = nn.Linear(max(node_dim, 1), hidden)
        self.layers = nn.ModuleList([EGNNLayer(hidden, update_coords) for _ in range(layers)])

    def forward(self, x: Tensor, node_features: Tensor | None = None,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mask = check_points(x, mask, "EGNN")
        if node_features is None:
            node_features = torch.ones(*x.shape[:2], 1, dtype=x.dtype, device=x.device)
        h = self.embed(node_features) * mask[..., None].to(x.dtype)
        for layer in self.layers:
            h, x = layer(h, x, mask)
        return h, x


class PointCloudEncoder(nn.Module):
    """``x -> (z (B, latent), PointFeatures)`` for SE(d) × S_n (``proper``) or E(d) × S_n.

    ``x (B, n, d)`` with ``d = dim`` (2: points in the plane, 3: in space), or ``(x, mask)`` /
    ``(x, types)``.

    Args:
        latent_dim: size of the invariant code ``z``.
        n_points: the (maximum) number of points; needed for ``z_from="sorted"``.
        n_types: number of atom types (0 for plain point clouds).
        hidden: width of the EGNN and the per-point networks.
        egnn_layers: EGNN layers for invariant per-point features (0: frame coordinates and
            types only).
        egnn_coords: let the EGNN update positions between layers (only its invariant
            features are used here, so this is off by default: a third of the cost saved).
        z_from: ``"sorted"`` (``z = MLP(S·y)``) or ``"pooled"`` (``z = ρ(Σ φ(y_i, h_i))``).
        z_hidden: width of the code network.
        proper: SE(d) frames (mirror images stay apart) or E(d) frames (identified).
        perm: the permutation head (SoftSort settings).
        frame_blend: tie margin of the anchor frame (0: the single argmax frame). With
            ``frame_blend > 0`` the code is blended over the candidate frames of
            :func:`~quotient.nn.pose_rigid.anchor_candidates`, ``z = Σ_k w_k z_k``: continuous
            at ties of the farthest point and of the point farthest from the axis, still
            exactly invariant, and equal to the single frame's code when the margins exceed
            ``frame_blend`` (relative). The pose always uses the single argmax frame. Costs
            one code evaluation per candidate frame.
        blend_train: blend in training too (else only in ``eval()``: cheaper training, but
            the code network never sees blended codes).
        second_point: the key of the second anchor point, ``"axis"`` (farthest from the axis)
            or ``"axis_anchor"`` (also far from the first point, and handed for SE(3), which
            breaks ties that are not symmetries; see
            :func:`~quotient.nn.pose_rigid.anchor_candidates`; SE(2) frames use no second
            point).
        dim: the dimension ``d`` of the points, 2 or 3.
    """

    def __init__(self, latent_dim: int, n_points: int, n_types: int = 0, hidden: int = 64,
                 egnn_layers: int = 0, z_from: Literal["sorted", "pooled"] = "sorted",
                 z_hidden: int = 256, proper: bool = True,
                 perm: PermutationPose | None = None, egnn_coords: bool = False,
                 frame_blend: float = 0.0, blend_train: bool = True,
                 second_point: Literal["axis", "axis_anchor"] = "axis", dim: int = 3) -> None:
        super().__init__()
        check_dim(dim, "PointCloudEncoder(dim=...)")
        if z_from not in ("sorted", "pooled"):
            raise ValueError(f"z_from must be 'sorted' or 'pooled', got {z_from!r}")
        if not 0 <= frame_blend < 1:
            raise ValueError(f"frame_blend must be in [0, 1), got {frame_blend!r}")
        if second_point not in ("axis", "axis_anchor"):
            raise ValueError(f"second_point must be 'axis' or 'axis_anchor', got {second_point!r}")
        self.frame_blend, self.blend_train = float(frame_blend), bool(blend_train)
        self.second_point = second_point
        self.n_points, self.n_types, self.z_from, self.proper = n_points, n_types, z_from, proper
        self.dim = dim
        self.type_embed = nn.Embedding(n_types, hidden) if n_types else None
        self.egnn = EGNN(hidden, hidden, egnn_layers, update_coords=egnn_coords) \
            if egnn_layers else None
        feat = dim + (hidden if (n_types or egnn_layers) else 0)
        self.score = mlp([feat, hidden, hidden, 1])
        self.perm = perm or PermutationPose()
        if z_from == "sorted":
            self.code = mlp([n_points * feat, z_hidden, z_hidden, latent_dim])
        else:
            self.phi = mlp([feat, z_hidden, z_hidden], last_act=True)
            self.code = mlp([z_hidden, z_hidden, latent_dim])
        self.symmetry = Symmetry(
            rigid_group(proper), rigid_motion_and_permute_points,
            output=(None, point_features_action),
            note="exact (float64 frames): z invariant, frame / centroid / scores equivariant")

    def forward(self, x: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, PointFeatures]:
        pos, mask, types = split_point_input(x)
        mask = check_points(pos, mask, "PointCloudEncoder")
        pos = pos.masked_fill(~mask[..., None], 0.0)  # padding may hold anything, even NaN
        if pos.shape[-1] != self.dim:
            raise ValueError(f"this encoder reads points in {self.dim} dimensions, got "
                             f"{pos.shape[-1]}-dimensional points {tuple(pos.shape)}; build it "
                             f"with PointCloudEncoder(..., dim={pos.shape[-1]})")
        if self.z_from == "sorted" and pos.shape[1] != self.n_points:
            raise ValueError(f"this encoder reads {self.n_points} points (z_from='sorted'), got "
                             f"{pos.shape[1]}; pad to {self.n_points} with a mask")
        m = mask[..., None].to(pos.dtype)
        # the frames in float64: their only rounding is then that of the input itself, so exact
        # ties and permutations of the input give bit-identical frames
        pos64 = pos.double()
        width = self.frame_blend if self.blend_train or not self.training else 0.0
        cand = anchor_candidates(pos64, mask, proper=self.proper, width=width,
                                 second=self.second_point)
        t = cand.translation
        centred = (pos64 - t[:, None, :]) * mask[..., None]
        h = None
        if self.type_embed is not None:
            if types is None:
                raise ValueError("this encoder expects atom types: pass (positions, types)")
            h = self.type_embed(types.clamp_min(0)) * m
        if self.egnn is not None:
            h = self.egnn(pos, h, mask)[0] if h is not None else self._egnn_plain(pos, mask)
        # the single (argmax) frame: the pose, and the code where no other frame is in the margin
        rot = cand.rotation[cand.hard]
        feats = self._features(centred, rot, h, m, pos.dtype)
        scores = self.score(feats)[..., 0]
        perm = self.perm(scores, mask)
        z = self._code(feats, perm.matrix, mask)
        extra = torch.ones_like(cand.sample, dtype=torch.bool)
        extra[cand.hard] = False
        if bool(extra.any()):  # z = Σ_k w_k z_k over the candidate frames of each cloud
            rows = cand.sample[extra]
            fe = self._features(centred[rows], cand.rotation[extra],
                                None if h is None else h[rows], m[rows], pos.dtype)
            matrix = self.perm.matrices(self.score(fe)[..., 0], mask[rows])[0]
            z_extra = self._code(fe, matrix, mask[rows])
            z = (z * cand.weight[cand.hard].to(z.dtype)[:, None]).index_add(
                0, rows, z_extra * cand.weight[extra].to(z.dtype)[:, None])
        return z, PointFeatures(rot, t, scores, centred, mask, perm)

    @staticmethod
    def _features(centred: Tensor, rot: Tensor, h: Tensor | None, m: Tensor,
                  dtype: torch.dtype) -> Tensor:
        """Per-point features ``[Rᵀ(x_i − t), h_i]`` (``d + hidden``) of one frame per row."""
        y = (centred @ rot).to(dtype)
        return torch.cat([y] if h is None else [y, h], dim=-1) * m

    def _code(self, feats: Tensor, matrix: Tensor, mask: Tensor) -> Tensor:
        if self.z_from == "sorted":
            return self.code((matrix.to(feats.dtype) @ feats).flatten(1))
        return self.code(masked_pool(self.phi(feats), mask, "sum"))

    def _egnn_plain(self, pos: Tensor, mask: Tensor) -> Tensor:
        assert self.egnn is not None
        ones = torch.ones(*pos.shape[:2], self.egnn.node_dim, dtype=pos.dtype, device=pos.device)
        return self.egnn(pos, ones, mask)[0]
