"""Graphs for the S_n tasks on adjacency matrices: stochastic-block-model graphs labelled by
connectivity, training/test splits of padded graphs, and a test for graphs without automorphisms."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["GraphSet", "SBMGraphs", "graph_split", "is_connected", "make_sbm_graphs",
           "own_graph_split",
           "rigid_graphs"]


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


def graph_split(data: str = "atlas", *, seed: int = 0, max_nodes: int = 7,
                train_copies: int = 1, test_copies: int = 1, sbm_nodes: int = 10,
                sbm_train: int = 4000, sbm_test: int = 1000,
                dtype: torch.dtype = torch.float32) -> tuple[GraphSet, GraphSet]:
    """Training and test graphs; the relabellings of the test set are never seen in training.

    ``data="atlas"``: every atlas graph with at most ``max_nodes`` nodes, padded to
    ``max_nodes`` slots, ``train_copies`` / ``test_copies`` times under random relabellings of
    all slots (seeds ``seed`` and ``seed + 1``; :func:`~quotient.data.graph_atlas.
    make_atlas_graphs`, needs networkx). ``data="sbm"``: ``sbm_train`` and ``sbm_test``
    stochastic-block-model graphs of ``sbm_nodes`` nodes (:func:`make_sbm_graphs`, the same
    seeds), numbered ``0 … sbm_train − 1`` and on from ``sbm_train``.
    """
    parts = []
    for k, (copies, count) in enumerate(((train_copies, sbm_train), (test_copies, sbm_test))):
        if data == "atlas":
            from .graph_atlas import make_atlas_graphs

            g = make_atlas_graphs(copies, n_max=max_nodes, max_nodes=max_nodes, seed=seed + k)
            parts.append(GraphSet(g.adjacency.to(dtype), g.mask, g.graph_index, g.n_edges))
        elif data == "sbm":
            adj = make_sbm_graphs(count, sbm_nodes, seed=seed + k).adjacency
            parts.append(GraphSet(adj.to(dtype), torch.ones(count, sbm_nodes, dtype=torch.bool),
                                  torch.arange(count) + k * sbm_train,
                                  adj.sum(dim=(1, 2)).long() // 2))
        else:
            raise ValueError(f"data must be 'atlas' or 'sbm', got {data!r}")
    return parts[0], parts[1]


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
