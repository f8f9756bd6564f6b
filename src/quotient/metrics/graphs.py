"""Metrics for graph autoencoders: edge and graph accuracy, isomorphism-class retrieval.

Graphs are padded adjacency matrices ``A (N, n, n)`` with node masks ``m (N, n)``; only the pairs
``i < j`` of real nodes are scored (the diagonal and padding never count). A predicted edge is an
edge probability above ``threshold`` (0.5).

* ``edge_acc`` — fraction of real pairs predicted right, pooled over all graphs.
* ``graph_acc`` — fraction of graphs with *every* real pair right (exact reconstruction).
* ``knn_acc`` (:func:`isomorphism_retrieval`) — codes of relabelled graphs are matched to the
  codes of a reference set by their nearest neighbour; a hit when the neighbour is the same
  isomorphism class. An invariant code scores 1 whenever different classes get different codes;
  an order-dependent one has to have seen that labelling.

A graph can be packed into one tensor ``A + diag(m)`` (:func:`pack_graphs`): the mask rides on
the otherwise empty diagonal and moves with ``P (·) Pᵀ``, so the plain ``permute_graph`` action
and the shared metrics of :mod:`quotient.metrics.symmetry` apply unchanged.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .representation import knn_accuracy

__all__ = ["edge_accuracy", "graph_accuracy", "isomorphism_retrieval", "pack_graphs",
           "unpack_graphs"]


def _scored(probs: Tensor, adjacency: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Per-graph correctness (N, n, n) and the scored-pair mask (N, n, n)."""
    if probs.shape != adjacency.shape or probs.dim() != 3 or probs.shape[1] != probs.shape[2]:
        raise ValueError(f"predictions {tuple(probs.shape)} and adjacency "
                         f"{tuple(adjacency.shape)} must both have shape (N, n, n)")
    n = adjacency.shape[1]
    if mask is None:
        mask = torch.ones(adjacency.shape[:2], dtype=torch.bool, device=adjacency.device)
    if mask.shape != adjacency.shape[:2]:
        raise ValueError(f"mask must have shape {tuple(adjacency.shape[:2])}, got "
                         f"{tuple(mask.shape)}")
    mask = mask.bool()
    upper = torch.ones(n, n, dtype=torch.bool, device=adjacency.device).triu(1)
    sel = mask[:, :, None] & mask[:, None, :] & upper
    return probs.bool() == (adjacency > 0.5), sel


def edge_accuracy(pred: Tensor, adjacency: Tensor, mask: Tensor | None = None, *,
                  threshold: float = 0.5) -> float:
    """Fraction of real node pairs ``i < j`` whose edge is predicted right.

    Args:
        pred: edge probabilities (N, n, n) (thresholded at ``threshold``) or 0/1 predictions.
        adjacency: the true 0/1 adjacency (N, n, n).
        mask: bool (N, n), real nodes (None: all).
    """
    ok, sel = _scored(pred > threshold, adjacency, mask)
    if not sel.any():
        raise ValueError("edge_accuracy: no real node pairs to score")
    return float(ok[sel].double().mean())


def graph_accuracy(pred: Tensor, adjacency: Tensor, mask: Tensor | None = None, *,
                   threshold: float = 0.5) -> float:
    """Fraction of graphs reconstructed exactly (every real pair right); graphs with fewer
    than two nodes count as right."""
    ok, sel = _scored(pred > threshold, adjacency, mask)
    if ok.shape[0] == 0:
        raise ValueError("graph_accuracy: got no graphs")
    return float((ok | ~sel).flatten(1).all(dim=1).double().mean())


def isomorphism_retrieval(z_query: Tensor, class_query: Tensor, z_reference: Tensor,
                          class_reference: Tensor) -> float:
    """Nearest-neighbour retrieval accuracy of isomorphism classes (1-NN on standardised codes,
    :func:`~quotient.metrics.representation.knn_accuracy` with ``k = 1``).

    Args:
        z_query: codes (N, d) of relabelled graphs.
        class_query: their isomorphism class (N,), e.g. the atlas index.
        z_reference: codes (M, d) of the reference graphs (at least one per class).
        class_reference: their classes (M,).
    """
    with warnings.catch_warnings():  # one reference per class looks like regression to sklearn
        warnings.filterwarnings("ignore", message="The number of unique classes")
        return knn_accuracy(z_reference, class_reference, z_query, class_query, k=1)


def pack_graphs(adjacency: Tensor, mask: Tensor) -> Tensor:
    """``A + diag(m)`` (N, n, n): one tensor per graph that ``permute_graph`` acts on correctly.

    Requires a zero diagonal (simple graphs) and zero padding rows/columns.
    """
    diag = torch.diagonal(adjacency, dim1=1, dim2=2)
    if (diag != 0).any():
        raise ValueError("pack_graphs needs a zero diagonal (no self-loops); the mask is stored "
                         "there")
    return adjacency + torch.diag_embed(mask.to(adjacency.dtype))


def unpack_graphs(packed: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`pack_graphs`: ``(adjacency with zero diagonal, bool mask)``."""
    diag = torch.diagonal(packed, dim1=1, dim2=2)
    return packed - torch.diag_embed(diag), diag > 0.5
