"""Graphs for the S_n tasks on adjacency matrices: stochastic-block-model graphs labelled by
connectivity, training/test splits of padded graphs, and a test for graphs without automorphisms."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError

__all__ = ["GraphSet", "SBMGraphs", "graph_split", "is_connected", "make_sbm_graphs",
           "own_graph_split", "relabel_set", "relabelled_classes", "rigid_graphs"]


@dataclass(frozen=True)
class SBMGraphs:
    """Undirected simple graphs drawn from a stochastic block model.

    Attributes:
        adjacency: float32 (N, n, n), symmetric, entries 0/1, zero diagonal.
        blocks: int64 (N, n), block of each node in [0, n_blocks).
        connected: int64 (N,), 1 if the graph is connected, else 0 (the classification label).
    """

    adjacency: Tensor
    blocks: Tensor
    connected: Tensor

    def __len__(self) -> int:
        return int(self.connected.shape[0])


def is_connected(adjacency: Tensor) -> Tensor:
    """Whether each undirected graph is connected.

    Args:
        adjacency: (N, n, n) or (n, n), symmetric, nonzero entries are edges.

    Returns:
        bool (N,) (or a 0-d bool for a single graph); a graph with one node is connected, a graph
        with zero nodes is not.
    """
    if adjacency.ndim not in (2, 3) or adjacency.shape[-1] != adjacency.shape[-2]:
        raise ValueError(f"adjacency must be (N, n, n) or (n, n), got {tuple(adjacency.shape)}")
    single = adjacency.ndim == 2
    a = adjacency.unsqueeze(0) if single else adjacency
    n = a.shape[-1]
    if n == 0:
        out = torch.zeros(a.shape[0], dtype=torch.bool)
        return out[0] if single else out
    # Reachability by repeated squaring of (I + A): after k squarings, paths of length <= 2^k.
    reach = (a != 0) | torch.eye(n, dtype=torch.bool)
    for _ in range(max(1, math.ceil(math.log2(n)))):
        r = reach.to(torch.float32)
        reach = (r @ r) > 0
    out = reach[:, 0, :].all(dim=1)
    return out[0] if single else out


def make_sbm_graphs(
    n_graphs: int,
    n_nodes: int = 10,
    n_blocks: int = 2,
    p_in: float = 0.5,
    p_out: float = 0.08,
    *,
    seed: int = 0,
) -> SBMGraphs:
    """Draw graphs from a stochastic block model, labelled by connectivity.

    Each node gets a block uniformly at random (so the distribution of graphs is invariant under
    node permutations); each pair of nodes is joined independently with probability ``p_in`` if
    they share a block and ``p_out`` otherwise. With the defaults (10 nodes, 2 blocks, 0.5, 0.08)
    about 52 % of the graphs are connected.

    Returns:
        SBMGraphs with adjacency float32 (n_graphs, n_nodes, n_nodes), blocks int64
        (n_graphs, n_nodes) and connected int64 (n_graphs,).
    """
    for name, value, low in (("n_graphs", n_graphs, 0), ("n_nodes", n_nodes, 1),
                             ("n_blocks", n_blocks, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.randint(n_blocks, (n_graphs, n_nodes), generator=generator)
    same = blocks.unsqueeze(2) == blocks.unsqueeze(1)
    prob = torch.where(same, torch.tensor(p_in), torch.tensor(p_out))
    draws = torch.rand(n_graphs, n_nodes, n_nodes, generator=generator) < prob
    upper = torch.triu(draws, diagonal=1)
    adjacency = (upper | upper.transpose(1, 2)).to(torch.float32)
    connected = is_connected(adjacency).to(torch.int64)
    return SBMGraphs(adjacency=adjacency, blocks=blocks, connected=connected)


def rigid_graphs(adjacency: Tensor, mask: Tensor | None = None) -> Tensor:
    """Whether each graph provably has no automorphism but the identity, bool ``(N,)``.

    An automorphism is a permutation of the real nodes that keeps the adjacency. Padding slots
    are left out: they are interchangeable, and quotient compares poses and reconstructions of
    padded inputs on the real elements only (:class:`~quotient.nn.pose.Pose` ``mask``).

    Colour refinement (the 1-dimensional Weisfeiler–Leman test): every real node starts with
    one colour, then is recoloured by (its colour, the multiset of its neighbours' colours)
    until nothing changes (at most ``n`` rounds). An automorphism maps every node to one of
    the same colour, so when all real nodes end with distinct colours the only automorphism
    is the identity. The test is sound, not complete: a few graphs without automorphisms
    keep ties (regular ones, say) and are reported ``False``; on the graph atlas it finds all
    162 (152 with 7 nodes, 8 with 6, the empty graph and the single node).

    Args:
        adjacency: ``(N, n, n)``, nonzero entries are edges; mask: bool ``(N, n)`` (None: all
            nodes real).
    """
    b, n = adjacency.shape[:2]
    real = torch.ones(b, n, dtype=torch.bool) if mask is None else mask.bool()
    adj = (adjacency != 0) & real[:, :, None] & real[:, None, :]
    colour = real.long()
    for _ in range(n):
        neighbours = torch.where(adj, colour[:, None, :], -1)
        signature = torch.cat([colour[..., None], neighbours.sort(dim=-1).values], dim=-1)
        # colours are shared across graphs: equal signatures mean equal colours anywhere
        refined = torch.unique(signature.reshape(b * n, n + 1), dim=0,
                               return_inverse=True)[1].reshape(b, n)
        if torch.equal(refined, colour):
            break
        colour = refined
    # padding slots get distinct stand-in colours (below every real one): never a tie
    ranked = torch.where(real, colour, -1 - torch.arange(n)).sort(dim=1).values
    return (ranked.diff(dim=1) != 0).all(dim=1)


@dataclass(frozen=True)
class GraphSet:
    """Padded graphs for learning.

    Attributes:
        adjacency: (N, n, n), symmetric 0/1, zero diagonal, zero on padding.
        mask: bool (N, n), True for real nodes.
        graph_index: int64 (N,), the isomorphism class (atlas index) of atlas graphs, a running
            number for independently drawn ones.
        n_edges: int64 (N,).
    """

    adjacency: Tensor
    mask: Tensor
    graph_index: Tensor
    n_edges: Tensor

    @property
    def inputs(self) -> tuple[Tensor, Tensor]:
        """The model input ``(adjacency, mask)``."""
        return self.adjacency, self.mask

    def __len__(self) -> int:
        return int(self.graph_index.shape[0])


def relabelled_classes(adjacency: Tensor, n_nodes: Tensor, class_index: Tensor, copies: int, *,
                       seed: int, dtype: torch.dtype = torch.float32) -> GraphSet:
    """Class representatives (real nodes first) under ``copies`` random relabellings each.

    Each copy of graph ``A`` (``n`` slots, mask ``m`` = its first ``n_nodes`` slots) is
    ``(P_σ A P_σᵀ, P_σ m)`` for a uniformly random ``σ ∈ S_n`` of *all* slots, so padding is
    scattered among the real nodes (the same draw as :func:`~quotient.data.graph_atlas.
    make_atlas_graphs`: ``copies`` consecutive rows per class, seeded generator).

    Args:
        adjacency: ``(G, n, n)``; n_nodes, class_index: int64 ``(G,)``; copies: at least 1.

    Returns:
        :class:`GraphSet` of ``copies · G`` graphs, ``graph_index`` the class.
    """
    from .graph_atlas import relabel_graphs

    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"copies must be an integer >= 1, got {copies!r}")
    g, n = adjacency.shape[0], adjacency.shape[1]
    mask = (torch.arange(n)[None, :] < n_nodes[:, None]).repeat_interleave(copies, 0)
    adj = adjacency.repeat_interleave(copies, 0)
    perm = torch.rand(g * copies, n, generator=torch.Generator().manual_seed(seed)).argsort(1)
    adj, mask = relabel_graphs(adj, mask, perm)
    return GraphSet(adj.to(dtype), mask, class_index.repeat_interleave(copies),
                    (adj.sum(dim=(1, 2)) / 2).round().long())


def relabel_set(graphs: GraphSet, seed: int) -> GraphSet:
    """The same graphs under fresh random relabellings of all slots (seeded): a reference copy
    of every class, e.g. for isomorphism retrieval among held-out classes."""
    from .graph_atlas import relabel_graphs

    b, n = graphs.mask.shape
    perm = torch.rand(b, n, generator=torch.Generator().manual_seed(seed)).argsort(1)
    adj, mask = relabel_graphs(graphs.adjacency, graphs.mask, perm)
    return GraphSet(adj, mask, graphs.graph_index.clone(), graphs.n_edges.clone())


def graph_split(data: str = "atlas", *, seed: int = 0, max_nodes: int = 7,
                train_copies: int = 1, test_copies: int = 1, sbm_nodes: int = 10,
                sbm_train: int = 4000, sbm_test: int = 1000,
                split: str = "class", test_fraction: float = 0.2,
                dtype: torch.dtype = torch.float32) -> tuple[GraphSet, GraphSet]:
    """Training and test graphs.

    ``data="atlas"``: every isomorphism class with at most ``max_nodes`` nodes (0 to 8: the
    1,253 atlas graphs up to 7 nodes, and with 8 also the 12,346 bundled graphs on 8 nodes;
    :func:`~quotient.data.graph_classes.graph_classes`), padded to ``max_nodes`` slots, under
    random relabellings of all slots (training copies seeded ``seed``, test copies
    ``seed + 1``):

    * ``split="class"`` — a seeded ``test_fraction`` of the classes (per node count,
      :func:`~quotient.data.graph_classes.class_split`) is only ever in the test set, under
      ``test_copies`` relabellings; the other classes are trained on, ``train_copies`` times.
      Train and test share no isomorphism class: the test graphs are unseen graphs.
    * ``split="relabel"`` — every class in both: ``train_copies`` training relabellings and
      ``test_copies`` held-out relabellings of the same graphs (for an exactly invariant code
      the test set is then the training set again; kept for comparison with earlier figures).

    ``data="sbm"``: ``sbm_train`` and ``sbm_test`` stochastic-block-model graphs of
    ``sbm_nodes`` nodes (:func:`make_sbm_graphs`, the same seeds), numbered ``0 … sbm_train − 1``
    and on from ``sbm_train``; independent draws, so ``split`` does not apply.

    Raises:
        ConfigError: ``split``, ``test_fraction`` or ``max_nodes`` out of range.
    """
    if split not in ("class", "relabel"):
        raise ConfigError(f"split must be 'class' (hold out isomorphism classes) or 'relabel' "
                          f"(hold out relabellings of the training graphs), got {split!r}")
    if data == "sbm":
        parts = []
        for k, count in enumerate((sbm_train, sbm_test)):
            adj = make_sbm_graphs(count, sbm_nodes, seed=seed + k).adjacency
            parts.append(GraphSet(adj.to(dtype), torch.ones(count, sbm_nodes, dtype=torch.bool),
                                  torch.arange(count) + k * sbm_train,
                                  adj.sum(dim=(1, 2)).long() // 2))
        return parts[0], parts[1]
    if data != "atlas":
        raise ValueError(f"data must be 'atlas' or 'sbm', got {data!r}")
    from .graph_atlas import ATLAS_MAX_NODES, make_atlas_graphs
    from .graph_classes import class_split, graph_classes

    adj, n_nodes, index = graph_classes(max_nodes)  # checks max_nodes
    if split == "relabel" and max_nodes <= ATLAS_MAX_NODES:
        # the atlas path exactly as before, so earlier figures stay reproducible
        sets = []
        for k, copies in enumerate((train_copies, test_copies)):
            g = make_atlas_graphs(copies, n_max=max_nodes, max_nodes=max_nodes, seed=seed + k)
            sets.append(GraphSet(g.adjacency.to(dtype), g.mask, g.graph_index, g.n_edges))
        return sets[0], sets[1]
    held_out = (class_split(n_nodes, test_fraction, seed=seed) if split == "class"
                else torch.zeros(index.shape[0], dtype=torch.bool))
    train_rows = ~held_out
    test_rows = held_out if split == "class" else train_rows
    train = relabelled_classes(adj[train_rows], n_nodes[train_rows], index[train_rows],
                               train_copies, seed=seed, dtype=dtype)
    test = relabelled_classes(adj[test_rows], n_nodes[test_rows], index[test_rows],
                              test_copies, seed=seed + 1, dtype=dtype)
    return train, test


def own_graph_split(path: str, *, max_nodes: int, seed: int = 0, batch_size: int | None = None,
                    dtype: torch.dtype = torch.float32
                    ) -> tuple[GraphSet, GraphSet, tuple[Tensor | None, Tensor | None], str]:
    """Your graphs (an ``.npz`` of ``adjacency (N, n, n)``, optional ``mask`` and ``labels``;
    see :func:`~quotient.data.user_files.load_graph_file`), checked and split 80 % / 20 %
    (seeded): the training and test :class:`GraphSet` (numbered, no isomorphism classes), their
    labels and the file's name.

    Raises:
        DataError, ConfigError: the file or the sizes do not fit, naming the fix.
    """
    from .user_files import load_graph_file, split_data, split_sizes

    own = load_graph_file(path, max_nodes=max_nodes)
    sizes = split_sizes(len(own), None, None, what="graphs", source=path, batch_size=batch_size)
    parts = split_data(own, *sizes, seed=seed)
    sets = [GraphSet(p.values.to(dtype), p.mask, torch.arange(len(p)) + first,
                     p.values.sum(dim=(1, 2)).long() // 2)
            for p, first in zip(parts, (0, sizes[0]), strict=True)]
    return sets[0], sets[1], (parts[0].labels, parts[1].labels), own.name
