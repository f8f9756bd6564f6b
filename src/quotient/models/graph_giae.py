"""The group-invariant autoencoder for graphs (S_n acting by A ↦ P A Pᵀ), and a classical baseline.

    z = η(A, m)        invariant code           (:mod:`quotient.nn.graphs`)
    S = ξ(μ(A, m))     sorting permutation      (:mod:`quotient.nn.graph_pose`)
    L̂ = δ(z)           canonical edge logits    (:class:`AdjacencyDecoder`)
    Â = σ(Sᵀ L̂ S)     reconstructed edge probabilities, in the input's node order

``L̂`` is symmetric with a fixed, very negative diagonal (no self-loops), and only the pairs
``i < j`` of real nodes enter the loss

    L = BCE(Sᵀ L̂ S, A) over {i < j : m_i m_j} + w · (mean row + column entropy of S̃).

With S exact (straight-through forward, and always in evaluation) ``Sᵀ L̂ S`` just relabels the
canonical logits, so the loss is invariant under node permutations of the input.

The classical autoencoder :class:`GraphMLPAutoencoder` reads the upper triangle and the mask in the
given node order and decodes logits in that same order: it has to learn every labelling of a graph
separately, which is what the comparison in the benchmark shows.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import permute_graph
from ..nn.graph_pose import GraphPermutationPose
from ..nn.graphs import GraphEncoder, as_graph_batch, pair_mask
from .giae import GIAE, GIAEOutput

__all__ = ["NO_EDGE_LOGIT", "AdjacencyDecoder", "GraphGIAE", "GraphMLPAutoencoder",
           "edge_probabilities", "masked_edge_bce", "upper_pairs"]

NO_EDGE_LOGIT = -30.0
"""Logit on the diagonal of decoded adjacencies (σ(−30) ≈ 1e−13); the diagonal is never scored."""


def upper_pairs(mask: Tensor) -> Tensor:
    """Bool (B, n, n): real pairs with ``i < j``."""
    n = mask.shape[1]
    upper = torch.ones(n, n, dtype=torch.bool, device=mask.device).triu(1)
    return pair_mask(mask) & upper


def _tri_to_matrix(values: Tensor, n: int) -> Tensor:
    """Upper-triangle values (B, n(n−1)/2) -> symmetric logits (B, n, n), diagonal NO_EDGE."""
    i, j = torch.triu_indices(n, n, 1, device=values.device)
    out = values.new_full((values.shape[0], n, n), NO_EDGE_LOGIT)
    out[:, i, j] = values
    out[:, j, i] = values
    return out


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class AdjacencyDecoder(nn.Module):
    """δ: z (B, d) -> canonical edge logits (B, n, n), symmetric, diagonal ``NO_EDGE_LOGIT``.

    An MLP with ``layers`` hidden layers of width ``hidden`` predicts the ``n(n−1)/2`` upper
    logits; they are mirrored, so symmetry holds exactly.
    """

    def __init__(self, latent_dim: int, n_nodes: int = 7, hidden: int = 256,
                 layers: int = 2) -> None:
        super().__init__()
        if n_nodes < 1 or layers < 1:
            raise ValueError("n_nodes and layers must be at least 1")
        self.n_nodes = n_nodes
        self.net = _mlp([latent_dim] + [hidden] * layers + [n_nodes * (n_nodes - 1) // 2])

    def forward(self, z: Tensor) -> Tensor:
        return _tri_to_matrix(self.net(z), self.n_nodes)


def edge_probabilities(logits: Tensor, mask: Tensor | None = None) -> Tensor:
    """``σ(logits)`` with an exactly zero diagonal (and zero rows/columns on padding)."""
    probs = torch.sigmoid(logits)
    n = logits.shape[-1]
    probs = probs * (1 - torch.eye(n, dtype=probs.dtype, device=probs.device))
    if mask is not None:
        probs = probs * pair_mask(mask).to(probs.dtype)
    return probs


def masked_edge_bce(logits: Tensor, x: Any) -> Tensor:
    """Mean binary cross-entropy over the real pairs ``i < j`` (``x`` any graph batch)."""
    g = as_graph_batch(x)
    if logits.shape != g.adjacency.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match the adjacency "
                         f"{tuple(g.adjacency.shape)}; the decoder's n_nodes must equal the "
                         "padded graph size")
    sel = upper_pairs(g.mask)
    if not sel.any():
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[sel], g.adjacency.to(logits.dtype)[sel])


class GraphGIAE(GIAE):
    """A :class:`~quotient.models.giae.GIAE` for padded graphs of up to ``n_nodes`` nodes.

    Args:
        n_nodes: padded graph size (the decoder's output size).
        latent_dim, channels, layers, pose_channels, pose_layers, node_features, batch_norm:
            see :class:`~quotient.nn.graphs.GraphEncoder`.
        decoder_hidden, decoder_layers: width and depth of the decoder MLP.
        tau, mode, pose_method: see :class:`~quotient.nn.graph_pose.GraphPermutationPose`.
        entropy_weight: weight of the ``perm_entropy`` penalty.

    ``model(x)`` returns a :class:`GIAEOutput` whose ``canonical`` and ``reconstruction`` are
    edge *logits* (B, n, n); use :func:`edge_probabilities` for probabilities.
    """

    def __init__(self, n_nodes: int = 7, *, latent_dim: int = 32, channels: int = 32,
                 layers: int = 3, pose_channels: int = 16, pose_layers: int = 2,
                 node_features: int = 0, batch_norm: bool = True, walks: int = 1,
                 decoder_hidden: int = 256, decoder_layers: int = 2, tau: float = 1.0,
                 mode: Literal["soft", "straight_through", "hard"] = "straight_through",
                 pose_method: Literal["individualize", "sort"] = "individualize",
                 entropy_weight: float = 0.01) -> None:
        encoder = GraphEncoder(latent_dim, channels, layers, pose_channels=pose_channels,
                               pose_layers=pose_layers, node_features=node_features,
                               n_ref=float(n_nodes), batch_norm=batch_norm, walks=walks)
        super().__init__(encoder, GraphPermutationPose(tau, mode, pose_method),
                         AdjacencyDecoder(latent_dim, n_nodes, decoder_hidden, decoder_layers),
                         reconstruction_loss=masked_edge_bce,
                         penalty_weights={"perm_entropy": entropy_weight},
                         reconstruction_action=(permute_graph, "pairs"))
        self.n_nodes = n_nodes


class GraphMLPAutoencoder(nn.Module):
    """Classical, order-dependent autoencoder: (upper triangle of A, mask) -> z -> logits.

    The output is in the input's node order, so ``forward`` returns a :class:`GIAEOutput` with
    ``canonical = reconstruction`` and an identity pose, for a drop-in comparison.
    """

    def __init__(self, n_nodes: int = 7, *, latent_dim: int = 32, hidden: int = 256,
                 layers: int = 2) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        n_pairs = n_nodes * (n_nodes - 1) // 2
        self.encoder = _mlp([n_pairs + n_nodes] + [hidden] * layers + [latent_dim])
        self.decoder = AdjacencyDecoder(latent_dim, n_nodes, hidden, layers)

    def embed(self, x: Any) -> Tensor:
        """The (order-dependent) code z (B, latent_dim)."""
        g = as_graph_batch(x)
        n = g.adjacency.shape[1]
        if n != self.n_nodes:
            raise ValueError(f"this autoencoder reads graphs padded to {self.n_nodes} nodes, got "
                             f"{n}; pad or build it with n_nodes={n}")
        i, j = torch.triu_indices(n, n, 1, device=g.adjacency.device)
        dtype = self.decoder.net[0].weight.dtype
        adj = (g.adjacency * pair_mask(g.mask).to(g.adjacency.dtype)).to(dtype)
        return self.encoder(torch.cat([adj[:, i, j], g.mask.to(dtype)], dim=1))

    def forward(self, x: Any) -> GIAEOutput:
        from .giae import Pose

        z = self.embed(x)
        logits = self.decoder(z)
        b = z.shape[0]
        identity = torch.arange(self.n_nodes, device=z.device).expand(b, -1)
        return GIAEOutput(z, Pose(identity, lambda c: c), logits, logits)

    def loss(self, x: Any, out: GIAEOutput | None = None) -> tuple[Tensor, dict[str, float]]:
        """Masked BCE and its value as a float."""
        out = self(x) if out is None else out
        rec = masked_edge_bce(out.reconstruction, x)
        return rec, {"rec": float(rec.detach()), "loss": float(rec.detach())}
