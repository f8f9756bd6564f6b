"""Every graph with up to seven nodes (the graph atlas), padded, masked and randomly relabelled.

The atlas of Read and Wilson, shipped with networkx (``networkx.graph_atlas_g()``), lists the
1,253 isomorphism classes of simple undirected graphs with 0 to 7 nodes. Each class is stored
once with its real nodes first; :func:`make_atlas_graphs` pads it to ``n_max`` slots and presents
it under uniformly random permutations σ ∈ S_{n_max} of *all* slots,

    A ↦ P_σ A P_σᵀ,   mask ↦ P_σ mask,

so padding slots are scattered among the real nodes and only the mask tells them apart. Two
samples with the same ``graph_index`` are isomorphic; different indices are never isomorphic.

networkx is an optional dependency (``pip install 'quotient[graphs]'``), imported on first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import DataError

__all__ = ["ATLAS_MAX_NODES", "ATLAS_SIZE", "GraphAtlas", "atlas_graphs", "make_atlas_graphs",
           "relabel_graphs"]

ATLAS_SIZE = 1253
"""Number of graphs in the atlas (all isomorphism classes with 0 to 7 nodes)."""
ATLAS_MAX_NODES = 7
"""The most nodes of an atlas graph."""


@dataclass(frozen=True)
class GraphAtlas:
    """Padded, masked, relabelled atlas graphs.

    Attributes:
        adjacency: float32 (N, n_max, n_max), symmetric 0/1, zero diagonal, zero on padding.
        mask: bool (N, n_max), True for real nodes.
        graph_index: int64 (N,), the atlas index = isomorphism class.
        n_nodes: int64 (N,), number of real nodes.
        n_edges: int64 (N,), number of edges.
        perm: int64 (N, n_max), the relabelling σ applied to the atlas layout (real nodes first):
            node ``i`` of the atlas graph sits in slot ``σ(i)``.
    """

    adjacency: Tensor
    mask: Tensor
    graph_index: Tensor
    n_nodes: Tensor
    n_edges: Tensor
    perm: Tensor

    def __len__(self) -> int:
        return int(self.graph_index.shape[0])

    def tensors(self) -> dict[str, Tensor]:
        """The per-sample tensors as a dict (for a dict-of-tensors data set)."""
        return {"adjacency": self.adjacency, "mask": self.mask, "graph_index": self.graph_index,
                "n_nodes": self.n_nodes, "n_edges": self.n_edges, "perm": self.perm}


def _networkx() -> Any:
    try:
        import networkx
    except ImportError as exc:
        raise DataError("the graph atlas needs networkx; install it with "
                        "\"pip install 'quotient[graphs]'\" (or 'pip install networkx')") from exc
    return networkx


@functools.lru_cache(maxsize=4)
def _atlas(max_nodes: int, min_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    nx = _networkx()
    graphs = [(i, g) for i, g in enumerate(nx.graph_atlas_g())
              if min_nodes <= g.number_of_nodes() <= max_nodes]
    adj = torch.zeros(len(graphs), ATLAS_MAX_NODES, ATLAS_MAX_NODES)
    n_nodes = torch.zeros(len(graphs), dtype=torch.int64)
    index = torch.zeros(len(graphs), dtype=torch.int64)
    for row, (i, g) in enumerate(graphs):
        nodes = {v: k for k, v in enumerate(sorted(g.nodes()))}
        for u, v in g.edges():
            adj[row, nodes[u], nodes[v]] = adj[row, nodes[v], nodes[u]] = 1.0
        n_nodes[row], index[row] = g.number_of_nodes(), i
    return adj, n_nodes, index


def atlas_graphs(max_nodes: int = 7, *, min_nodes: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """The atlas graphs with ``min_nodes`` to ``max_nodes`` nodes, in atlas order.

    Returns:
        ``(adjacency, n_nodes, atlas_index)``: float32 (G, 7, 7) with the real nodes first,
        int64 (G,), int64 (G,). ``G = 1253`` for the defaults.
    """
    if not 0 <= min_nodes <= max_nodes <= ATLAS_MAX_NODES:
        raise DataError(f"need 0 <= min_nodes <= max_nodes <= {ATLAS_MAX_NODES}, got "
                        f"min_nodes={min_nodes}, max_nodes={max_nodes}; the atlas stops at 7 nodes")
    adj, n_nodes, index = _atlas(max_nodes, min_nodes)
    return adj.clone(), n_nodes.clone(), index.clone()


def relabel_graphs(adjacency: Tensor, mask: Tensor, perm: Tensor) -> tuple[Tensor, Tensor]:
    """Apply ``σ`` to padded graphs: ``(P_σ A P_σᵀ, P_σ m)`` for ``A`` (N, n, n), ``m`` and
    ``σ`` (N, n)."""
    inv = torch.argsort(perm, dim=1)
    rows = torch.gather(adjacency, 1, inv[:, :, None].expand_as(adjacency))
    adj = torch.gather(rows, 2, inv[:, None, :].expand_as(adjacency))
    return adj, torch.gather(mask, 1, inv)


def make_atlas_graphs(
    copies: int = 1,
    *,
    n_max: int = 7,
    max_nodes: int = 7,
    min_nodes: int = 0,
    seed: int = 0,
    relabel: bool = True,
) -> GraphAtlas:
    """Every atlas graph ``copies`` times, each copy under its own random relabelling.

    Args:
        copies: relabelled copies per isomorphism class (samples are class-major:
            ``copies`` consecutive rows per class).
        n_max: number of slots (≥ ``max_nodes``); the extra slots are padding.
        max_nodes: largest graphs to include (at most 7).
        min_nodes: smallest graphs to include (0 keeps the empty graph).
        seed: seed of the relabellings (an explicit ``torch.Generator``; nothing global).
        relabel: if False, keep the atlas layout (real nodes first, ``perm`` the identity).

    Returns:
        :class:`GraphAtlas` with ``copies · G`` samples.
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise DataError(f"copies must be an integer >= 1, got {copies!r}")
    if n_max < max_nodes:
        raise DataError(f"n_max={n_max} cannot hold graphs with max_nodes={max_nodes} nodes; "
                        f"set n_max >= max_nodes")
    base, n_nodes, index = atlas_graphs(max_nodes, min_nodes=min_nodes)
    g = base.shape[0]
    adj = torch.zeros(g, n_max, n_max)
    k = min(n_max, ATLAS_MAX_NODES)  # graphs have at most max_nodes <= n_max real nodes
    adj[:, :k, :k] = base[:, :k, :k]
    mask = torch.arange(n_max)[None, :] < n_nodes[:, None]
    adj, mask = adj.repeat_interleave(copies, 0), mask.repeat_interleave(copies, 0)
    n_nodes, index = n_nodes.repeat_interleave(copies), index.repeat_interleave(copies)
    if relabel:
        gen = torch.Generator().manual_seed(seed)
        perm = torch.rand(g * copies, n_max, generator=gen).argsort(dim=1)
        adj, mask = relabel_graphs(adj, mask, perm)
    else:
        perm = torch.arange(n_max).expand(g * copies, -1).clone()
    n_edges = (adj.sum(dim=(1, 2)) / 2).round().to(torch.int64)
    return GraphAtlas(adjacency=adj, mask=mask, graph_index=index, n_nodes=n_nodes,
                      n_edges=n_edges, perm=perm)
