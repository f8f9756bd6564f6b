"""A permutation-equivariant second-order graph encoder: invariant code z and per-node scores.

S_n acts on a graph with adjacency ``A`` (n × n), node mask ``m`` (n,) and node features ``X``
(n, f) by ``(A, m, X) ↦ (P A Pᵀ, P m, P X)``. The encoder works on an *edge tensor*
``E ∈ ℝ^{n×n×c}`` that transforms like ``A`` (``E[i, j]`` describes the ordered pair (i, j)):

    E⁰ = [A, I, A²/n_real, …, A^K/n_real^{K−1}, X on the diagonal]   (masked to real pairs)
    E^{l+1} = Eˡ + m_pair ⊙ ReLU(LN(W [Eˡ, (φ₁(Eˡ) ⋆ φ₂(Eˡ)) / n_real]))        (edge block)

where ``(φ₁ ⋆ φ₂)[i, j, c] = Σ_k φ₁(E)[i, k, c] φ₂(E)[k, j, c]`` is a channel-wise matrix product
(φ₁, φ₂ pointwise MLPs, LN a per-entry layer norm over channels, the residual only when the
widths match, K = ``walks``, 1 by default). Matrix products make the network count walks and
cycles; the construction can be as powerful as the 2-folklore Weisfeiler–Leman test (Maron et
al., 2019, "Provably powerful graph networks") — strictly stronger than message passing (1-WL),
which cannot tell a 6-cycle from two triangles.
Every operation commutes with ``E ↦ P E Pᵀ``, and ``m_pair[i, j] = m_i m_j`` keeps padded slots
at exactly zero, so padding never reaches z.

Readouts (``n_real`` = number of real nodes, sums over real nodes only):

    h_i = [E_ii, Σ_{j≠i} E_ij / n_real, Σ_{j≠i} E_ji / n_real]          node features (equivariant)
    z   = MLP(BN([Σ_i h_i / n_real, Σ_{i≠j} E_ij / n_real², n_real / n_ref]))      invariant code

(BN: batch normalisation of the pooled invariants; it keeps each z invariant.) A second, smaller
trunk of the same kind gives the pose features μ(A), and :meth:`GraphFeatures.scores` turns them,
together with *marks* of already individualised nodes, into per-node scores ``s ∈ ℝⁿ`` with
``s(P·A, P·marks) = P s(A, marks)`` (see :class:`GraphEncoder`). Marks let the pose head
(:mod:`quotient.nn.graph_pose`) break ties between structurally equivalent nodes one node at a
time (individualisation–refinement).

Shapes: adjacency (B, n, n) float, mask (B, n) bool (True = real node), node features (B, n, f);
any n, and graphs of different sizes share a batch through the mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import Action, permute_graph, permute_set
from ..errors import DataError
from ..groups import SymmetricGroup
from ..symmetry import Symmetry

__all__ = ["EdgeBlock", "EdgeTrunk", "GraphBatch", "GraphEncoder", "GraphFeatures",
           "as_graph_batch", "check_adjacency", "pair_mask", "permute_masked_graph"]

@dataclass
class GraphBatch:
    """A batch of padded graphs: adjacency (B, n, n), mask bool (B, n), node features (B, n, f)."""

    adjacency: Tensor
    mask: Tensor
    node_features: Tensor | None = None


def check_adjacency(adjacency: Any, mask: Tensor | None = None, *, what: str = "adjacency",
                    atol: float = 1e-6) -> Tensor:
    """Validate a batch of adjacency matrices and return the node mask (bool (B, n)).

    Raises:
        DataError (a ValueError): not a floating tensor of shape (B, n, n), not square, NaN or
            infinite entries, not symmetric on the real nodes, or a mask of the wrong shape.
    """
    if not isinstance(adjacency, Tensor):
        raise DataError(f"{what} must be a torch.Tensor of shape (batch, n, n), "
                        f"got {type(adjacency).__name__}")
    if adjacency.dim() != 3:
        hint = "; add a batch dimension with adjacency[None]" if adjacency.dim() == 2 else ""
        raise DataError(f"{what} must have shape (batch, n, n), got {tuple(adjacency.shape)}"
                        f"{hint}")
    b, n, n2 = adjacency.shape
    if n != n2:
        raise DataError(f"{what} must be square, got {n}×{n2} matrices; pass one row and one "
                        "column per node (pad smaller graphs to n nodes and give a mask)")
    if not adjacency.is_floating_point():
        raise DataError(f"{what} must be floating point (0/1 or edge weights), got "
                        f"{adjacency.dtype}; convert it with adjacency.float()")
    if not torch.isfinite(adjacency).all():
        raise DataError(f"{what} has NaN or infinite entries; replace them (e.g. with "
                        "torch.nan_to_num) or drop those graphs")
    if mask is None:
        mask = torch.ones(b, n, dtype=torch.bool, device=adjacency.device)
    elif mask.shape != (b, n):
        raise DataError(f"mask must have shape (batch, n) = {(b, n)}, got {tuple(mask.shape)}")
    mask = mask.bool()
    real = adjacency * pair_mask(mask).to(adjacency.dtype)
    gap = (real - real.transpose(1, 2)).abs().amax() if real.numel() else real.new_zeros(())
    scale = max(1.0, float(real.abs().amax())) if real.numel() else 1.0
    if float(gap) > atol * scale:
        raise DataError(f"{what} is not symmetric (max |A - Aᵀ| = {float(gap):.3g}); undirected "
                        "graphs need A = Aᵀ — symmetrise with (A + A.transpose(-1, -2)) / 2 or "
                        "with torch.maximum(A, A.transpose(-1, -2))")
    return mask


def pair_mask(mask: Tensor) -> Tensor:
    """``m_i m_j`` as a bool tensor (B, n, n)."""
    return mask[:, :, None] & mask[:, None, :]


def as_graph_batch(x: Any) -> GraphBatch:
    """Accept a tensor ``A``, a tuple ``(A, mask[, node_features])``, a mapping with keys
    ``adjacency``, ``mask`` (optional), ``node_features`` (optional), or a :class:`GraphBatch`;
    validate with :func:`check_adjacency`."""
    if isinstance(x, GraphBatch):
        adj, mask, feats = x.adjacency, x.mask, x.node_features
    elif isinstance(x, Tensor):
        adj, mask, feats = x, None, None
    elif isinstance(x, Mapping):
        if "adjacency" not in x:
            raise DataError(f"a graph batch needs the key 'adjacency', got keys {sorted(x)}")
        adj, mask, feats = x["adjacency"], x.get("mask"), x.get("node_features")
    elif isinstance(x, (tuple, list)) and 1 <= len(x) <= 3:
        adj, mask, feats = (tuple(x) + (None, None))[:3]
    else:
        raise DataError("graphs must be given as an adjacency tensor (B, n, n), a tuple "
                        f"(adjacency, mask[, node_features]) or a dict; got {type(x).__name__}")
    mask = check_adjacency(adj, mask)
    if feats is not None and (feats.dim() != 3 or feats.shape[:2] != adj.shape[:2]):
        raise DataError(f"node_features must have shape (batch, n, f) = {tuple(adj.shape[:2])} "
                        f"+ (f,), got {tuple(feats.shape)}")
    if feats is not None and not torch.isfinite(feats).all():
        raise DataError("node_features have NaN or infinite entries; clean them first")
    return GraphBatch(adj, mask, feats)


def _permute_masked_graph(perm: Tensor, x: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    from ..actions import permute_set

    adj, *rest = x
    return (permute_graph(perm, adj), *(permute_set(perm, t) for t in rest))


permute_masked_graph = Action(
    "permute_masked_graph", _permute_masked_graph, exact=True, groups=("Sn",),
    note="(A, mask[, X]) ↦ (P A Pᵀ, P mask[, P X])")
"""The exact action ``permute_masked_graph`` (for Sn): (A, mask[, X]) ↦ (P A Pᵀ, P mask[, P X])."""


def _act_graph_features(perm: Tensor, f: GraphFeatures) -> GraphFeatures:
    return GraphFeatures(permute_graph(perm, f.edge), *permute_set(perm, (f.node, f.mask)),
                         encoder=f.encoder)


graph_features_action = Action(
    "permute_graph_features", _act_graph_features, exact=True, groups=("Sn",),
    note="reorders the edge tensor, node features and mask (the cached relation is dropped)")


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class EdgeBlock(nn.Module):
    """One equivariant second-order block (B, n, n, c_in) -> (B, n, n, c_out); see module doc.

    ``pairs`` (B, n, n, 1) is the real-pair mask; ``norm`` (B, 1, 1, 1) the number of real nodes.
    """

    def __init__(self, c_in: int, c_out: int, hidden: int) -> None:
        super().__init__()
        self.left = _mlp([c_in, hidden, hidden])
        self.right = _mlp([c_in, hidden, hidden])
        self.mix = nn.Linear(c_in + hidden, c_out)
        self.norm = nn.LayerNorm(c_out)
        self.residual = c_in == c_out

    def forward(self, e: Tensor, pairs: Tensor, norm: Tensor) -> Tensor:
        left = (self.left(e) * pairs).permute(0, 3, 1, 2)
        right = (self.right(e) * pairs).permute(0, 3, 1, 2)
        prod = (left @ right).permute(0, 2, 3, 1) / norm
        out = torch.relu(self.norm(self.mix(torch.cat([e, prod], dim=-1)))) * pairs
        return out + e if self.residual else out


def _node_readout(e: Tensor, mask: Tensor, norm: Tensor) -> Tensor:
    """``h_i = [E_ii, Σ_{j≠i} E_ij / n, Σ_{j≠i} E_ji / n]``, (B, n, 3c), zero on padding."""
    diag = torch.diagonal(e, dim1=1, dim2=2).transpose(1, 2)
    rows = (e.sum(dim=2) - diag) / norm[:, :, 0]
    cols = (e.sum(dim=1) - diag) / norm[:, :, 0]
    return torch.cat([diag, rows, cols], dim=-1) * mask[:, :, None]


@dataclass
class GraphFeatures:
    """Equivariant features for the pose head (the output of μ).

    Attributes:
        edge: final edge tensor of the pose trunk (B, n, n, c), zero outside real pairs.
        node: node features h (B, n, 3c), zero on padding.
        mask: bool (B, n).
        encoder: the encoder whose score head turns ``(features, marks)`` into scores.
        relation: cache of the pairwise relation tensor ``R`` (filled on first use).
    """

    edge: Tensor
    node: Tensor
    mask: Tensor
    encoder: GraphEncoder
    relation: Tensor | None = None

    def scores(self, chosen: Tensor | None = None, rank: Tensor | None = None,
               last: Tensor | None = None) -> Tensor:
        """Per-node scores (B, n), equivariant in the graph and the marks; 0 on padding.

        Args:
            chosen: bool (B, n), nodes individualised so far (None: none).
            rank: int (B, n), the step at which each chosen node was individualised (0-based).
            last: bool (B, n), the node individualised in the previous step.
        """
        return self.encoder.score(self, chosen, rank, last)


class EdgeTrunk(nn.Module):
    """A stack of :class:`EdgeBlock` s: (B, n, n, c_in) -> (B, n, n, channels)."""

    def __init__(self, c_in: int, channels: int, layers: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [EdgeBlock(c_in if i == 0 else channels, channels, channels) for i in range(layers)])

    def forward(self, e: Tensor, pairs: Tensor, norm: Tensor) -> Tensor:
        for block in self.blocks:
            e = block(e, pairs, norm)
        return e


class _CodeNorm(nn.BatchNorm1d):
    """Batch normalisation of the pooled invariants; a batch of one uses the running statistics.

    Per-sample invariance is unaffected: batch statistics are averages of invariant vectors.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] < 2:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        return super().forward(x)


class GraphEncoder(nn.Module):
    """``(A, mask[, X]) -> (z, GraphFeatures)``: η (invariant code) and μ (pose features).

    Two second-order trunks read the same input: one is pooled into z, the other (smaller, unless
    ``pose_channels = 0`` shares the first) feeds the per-node scores. Keeping μ apart from η means
    the canonical order does not drift whenever the code is being reshaped.

    Args:
        latent_dim: size of z.
        channels, layers: edge channels and blocks of the code trunk.
        pose_channels, pose_layers: the same for the pose trunk (``pose_channels=0``: share).
        node_features: size f of optional node features (0: none).
        n_ref: node count that scales the size feature ``n_real / n_ref``.
        batch_norm: batch-normalise the pooled invariants before the code MLP (spreads the codes
            of different graphs apart early in training; evaluation uses running statistics).
        walks: input channels ``A^k / n_real^{k−1}`` for ``k ≤ walks`` (1: the adjacency only).

    Scores (:meth:`GraphFeatures.scores`): with ``R = MLP([E, Eᵀ])`` on the pose edge tensor,

        s_j = MLP([h_j, Σ_u c_u R[u, j] ⊙ g(r_u / n_real), R[last, j], c_j])

    where ``c`` marks chosen nodes, ``r_u`` their step (1-based) and ``g`` is a small MLP.
    """

    def __init__(self, latent_dim: int = 32, channels: int = 32, layers: int = 3, *,
                 pose_channels: int = 16, pose_layers: int = 2, node_features: int = 0,
                 n_ref: float = 7.0, batch_norm: bool = True, walks: int = 1) -> None:
        super().__init__()
        if min(latent_dim, channels, layers) < 1 or min(pose_channels, node_features) < 0 \
                or (pose_channels and pose_layers < 1):
            raise ValueError("latent_dim, channels and layers must be >= 1, pose_channels and "
                             "node_features >= 0, and pose_layers >= 1 for a pose trunk")
        self.latent_dim, self.node_features, self.n_ref = latent_dim, node_features, n_ref
        self.walks = max(1, walks)
        c_in = 1 + self.walks + node_features
        self.trunk = EdgeTrunk(c_in, channels, layers)
        self.pose_trunk = EdgeTrunk(c_in, pose_channels, pose_layers) if pose_channels else None
        cp = pose_channels or channels
        self.relation = _mlp([2 * cp, cp, cp])
        self.rank_gate = _mlp([1, cp, cp])
        self.score_head = _mlp([5 * cp + 1, cp, 1])
        pooled = 4 * channels + 1
        self.code_norm = _CodeNorm(pooled) if batch_norm else nn.Identity()
        self.head = _mlp([pooled, 2 * channels, latent_dim])

    def pose_parameters(self) -> list[nn.Parameter]:
        """Parameters of μ only (pose trunk, relation, rank gate and score head)."""
        mods = [self.pose_trunk, self.relation, self.rank_gate, self.score_head]
        return [p for m in mods if m is not None for p in m.parameters()]

    @staticmethod
    def _norms(mask: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        pairs = pair_mask(mask)[..., None].to(dtype)
        norm = mask.sum(dim=1).clamp_min(1).to(dtype)[:, None, None, None]
        return pairs, norm

    def _inputs(self, g: GraphBatch, dtype: torch.dtype, pairs: Tensor) -> Tensor:
        """``E⁰ = [A, I, X on the diagonal]`` masked to real pairs, (B, n, n, 2 + f)."""
        adj = g.adjacency.to(dtype)
        eye = torch.eye(adj.shape[1], dtype=dtype, device=adj.device).expand_as(adj)
        parts = [adj[..., None], eye[..., None]]
        power, count = adj, g.mask.sum(dim=1).clamp_min(1).to(dtype)[:, None, None]
        for _ in range(2, self.walks + 1):  # walk counts A^k / n^(k-1)
            power = power @ adj / count
            parts.append(power[..., None])
        if self.node_features:
            if g.node_features is None or g.node_features.shape[-1] != self.node_features:
                got = None if g.node_features is None else g.node_features.shape[-1]
                raise DataError(f"this encoder expects {self.node_features} node features per "
                                f"node, got {got}; pass node_features=... or build the encoder "
                                "with node_features=0")
            feats = g.node_features.to(dtype).transpose(1, 2)
            parts.append(torch.diag_embed(feats).permute(0, 2, 3, 1))
        return torch.cat(parts, dim=-1) * pairs

    symmetry = Symmetry(
        lambda x: SymmetricGroup(as_graph_batch(x).adjacency.shape[1]), permute_graph,
        output=(None, (permute_graph, permute_set, permute_set)),
        observe=lambda out: (out[0], (out[1].edge, out[1].node, out[1].mask)),
        note="exact: z invariant; edge tensor, node features and mask reordered")

    def forward(self, x: Any) -> tuple[Tensor, GraphFeatures]:
        g = as_graph_batch(x)
        mask = g.mask
        dtype = self.head[0].weight.dtype
        pairs, norm = self._norms(mask, dtype)
        e0 = self._inputs(g, dtype, pairs)
        e = self.trunk(e0, pairs, norm)
        h = _node_readout(e, mask, norm)
        n = norm[:, 0, 0, :]
        diag = torch.diagonal(e, dim1=1, dim2=2).transpose(1, 2)
        off = (e.sum(dim=(1, 2)) - diag.sum(dim=1)) / n**2
        size = mask.sum(1, keepdim=True).to(dtype) / self.n_ref
        z = self.head(self.code_norm(torch.cat([h.sum(dim=1) / n, off, size], dim=-1)))
        if self.pose_trunk is not None:
            e = self.pose_trunk(e0, pairs, norm)
            h = _node_readout(e, mask, norm)
        return z, GraphFeatures(e, h, mask, self)

    def score(self, feats: GraphFeatures, chosen: Tensor | None, rank: Tensor | None,
              last: Tensor | None) -> Tensor:
        """Per-node scores (B, n) from the pose features and the marks; see the class doc."""
        e, mask = feats.edge, feats.mask
        b, n = mask.shape
        zeros = torch.zeros(b, n, dtype=e.dtype, device=e.device)
        chosen_f = zeros if chosen is None else chosen.to(e.dtype)
        last_f = zeros if last is None else last.to(e.dtype)
        count = mask.sum(dim=1, keepdim=True).clamp_min(1).to(e.dtype)
        rank_f = zeros if rank is None else (rank.to(e.dtype) + 1) * chosen_f / count
        if feats.relation is None:
            pairs = pair_mask(mask)[..., None].to(e.dtype)
            feats.relation = self.relation(torch.cat([e, e.transpose(1, 2)], dim=-1)) * pairs
        rel = feats.relation
        gate = self.rank_gate(rank_f[..., None]) * chosen_f[..., None]  # (B, n, c)
        to_chosen = torch.einsum("bujc,buc->bjc", rel, gate)
        to_last = torch.einsum("bujc,bu->bjc", rel, last_f)
        h = torch.cat([feats.node, to_chosen, to_last, chosen_f[..., None]], dim=-1)
        return self.score_head(h)[..., 0] * mask.to(h.dtype)
