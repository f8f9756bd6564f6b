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

* ``canonical_agreement`` — share of graphs whose canonical adjacency ``S A Sᵀ`` (the input in
  the node order of its pose) equals that of a reference copy of the same class: 1 when the
  canonical form depends on the isomorphism class only.
* :func:`rigid_breakdown` — the pose and reconstruction errors of a symmetry report on the
  graphs without automorphisms (``*_rigid``), the only graphs whose node order is unique.

A graph can be packed into one tensor ``A + diag(m)`` (:func:`pack_graphs`): the mask rides on
the otherwise empty diagonal and moves with ``P (·) Pᵀ``, so the plain ``permute_graph`` action
and the shared metrics of :mod:`quotient.metrics.symmetry` apply unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .report import SymmetryReport
from .representation import knn_accuracy

__all__ = ["canonical_agreement", "canonical_graphs", "edge_accuracy", "graph_accuracy",
           "graph_outputs", "graph_reconstruction_metrics", "isomorphism_retrieval",
           "pack_graphs", "rigid_breakdown", "unpack_graphs"]


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


def graph_reconstruction_metrics(logits: Tensor, adjacency: Tensor, mask: Tensor
                                 ) -> dict[str, float]:
    """Reconstruction figures of edge logits ``(N, n, n)`` against the adjacency, over the real
    pairs ``i < j``: ``edge_acc``, ``graph_acc`` (edge probability ``σ(logit)`` above 0.5),
    ``rec_bce`` (mean binary cross-entropy) and ``rec_mse`` (mean ``(σ(logit) − A)²``)."""
    logits, target = logits.double(), adjacency.double()
    probs = torch.sigmoid(logits)
    upper = torch.ones(target.shape[1:], dtype=torch.bool, device=target.device).triu(1)
    sel = mask.bool()[:, :, None] & mask.bool()[:, None, :] & upper
    return {"edge_acc": edge_accuracy(probs, target, mask),
            "graph_acc": graph_accuracy(probs, target, mask),
            "rec_bce": float(F.binary_cross_entropy_with_logits(logits[sel], target[sel])),
            "rec_mse": float((probs[sel] - target[sel]).pow(2).mean())}


@torch.no_grad()
def graph_outputs(model: nn.Module, x: tuple[Tensor, Tensor], batch_size: int = 512
                  ) -> dict[str, Tensor]:
    """One evaluation pass of a graph autoencoder over ``x = (adjacency, mask)`` in chunks:
    ``z (N, d)``, ``reconstruction`` and ``canonical`` (edge logits ``(N, n, n)``) and
    ``order (N, n)``, the pose's node order (canonical slot -> input node)."""
    model.eval()
    outs = [model((x[0][i:i + batch_size], x[1][i:i + batch_size]))
            for i in range(0, x[0].shape[0], batch_size)]
    return {"z": torch.cat([o.z for o in outs]),
            "reconstruction": torch.cat([o.reconstruction for o in outs]),
            "canonical": torch.cat([o.canonical for o in outs]),
            "order": torch.cat([o.pose.element for o in outs])}


def canonical_graphs(adjacency: Tensor, order: Tensor) -> Tensor:
    """The graphs in canonical node order, ``S A Sᵀ`` with ``S[t, order[t]] = 1``:
    ``(N, n, n)`` from adjacency ``(N, n, n)`` and orders ``(N, n)``."""
    n = adjacency.shape[1]
    rows = torch.gather(adjacency, 1, order[:, :, None].expand(-1, -1, n))
    return torch.gather(rows, 2, order[:, None, :].expand(-1, n, -1))


def canonical_agreement(canonical: Tensor, classes: Tensor, canonical_reference: Tensor,
                        classes_reference: Tensor) -> float:
    """Share of graphs whose canonical adjacency ``(N, n, n)`` equals that of the first
    reference graph of the same isomorphism class (``classes (N,)``, references ``(M, n, n)``,
    ``(M,)``). A canonical form that depends on the class only gives 1.

    Raises:
        ValueError: a class has no reference graph.
    """
    first = {int(c): i for i, c in reversed(list(enumerate(classes_reference.tolist())))}
    missing = sorted({int(c) for c in classes.tolist()} - set(first))
    if missing:
        raise ValueError(f"canonical_agreement: classes {missing[:5]} have no reference graph")
    idx = torch.tensor([first[int(c)] for c in classes.tolist()], dtype=torch.long)
    same = (canonical == canonical_reference[idx]).flatten(1).all(dim=1)
    return float(same.double().mean())


def rigid_breakdown(report: SymmetryReport, rigid: Tensor) -> dict[str, Any]:
    """The pose and reconstruction errors of a :class:`~quotient.metrics.SymmetryReport` on the
    graphs without automorphisms.

    A graph with automorphisms has several node orders that are equally canonical, and which
    one the pose picks may change under relabelling: its pose and its reconstruction move with
    the input only up to an automorphism. On graphs without (``rigid``, e.g. from
    :func:`~quotient.data.graphs.rigid_graphs`, bool over the report's samples) both are
    exact. Returns ``pose_err_exact_<part>_rigid`` (worst) and ``..._rigid_mean``,
    ``rec_err_exact_rigid`` (worst), the same in float64 (``..._rigid_f64``, on the samples of
    the float64 re-check) and ``rigid_graphs``, the number of rigid samples; nothing for a
    report without pose or reconstruction errors, or when no sample is rigid.
    """
    out: dict[str, Any] = {}
    for setting, suffix in (("exact", ""), ("exact_f64", "_f64")):
        for key, err in report.samples.get(setting, {}).items():
            keep = rigid[:err.shape[0]].bool()
            if not (key == "rec" or key.startswith("pose_")) or not keep.any():
                continue
            name = "rec_err_exact" if key == "rec" else f"pose_err_exact_{key[5:]}"
            out[f"{name}_rigid{suffix}"] = float(err[keep].max())
            if key.startswith("pose_") and not suffix:
                out[f"{name}_rigid_mean"] = float(err[keep].mean())
            if not suffix:
                out["rigid_graphs"] = int(keep.sum())
    return out
