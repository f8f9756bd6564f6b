"""Stochastic-block-model graphs labelled by connectivity: the S_n task on adjacency matrices."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SBMGraphs", "is_connected", "make_sbm_graphs"]


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
