"""Every graph up to 8 nodes (atlas + bundled 8-node list) and the split by isomorphism class."""

import collections
import contextlib

import pytest
import torch

from quotient.data.graph_atlas import ATLAS_SIZE, atlas_graphs
from quotient.data.graph_classes import GRAPHS8_COUNT, class_split, graph_classes, graphs8
from quotient.data.graphs import graph_split, is_connected, relabel_set
from quotient.errors import ConfigError


@contextlib.contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _power_sum_invariants(adj: torch.Tensor) -> torch.Tensor:
    """Exact integer isomorphism invariants, int64 ``(G, 25)``: ``tr(M^k)`` for ``k = 1 … 8`` of
    the adjacency ``A``, the Laplacian ``D − A`` and the signless Laplacian ``D + A`` (they fix
    the three spectra of an 8-node graph), and the number of edges. Entries of ``M^8`` stay
    below 2^53, so float64 products are exact integers."""
    deg = adj.sum(2)
    cols = [deg.sum(1, keepdim=True) / 2]
    for m in (adj, torch.diag_embed(deg) - adj, torch.diag_embed(deg) + adj):
        power = m
        for _ in range(8):
            cols.append(power.diagonal(dim1=1, dim2=2).sum(1, keepdim=True))
            power = power @ m
    return torch.cat(cols, 1).round().long()


def test_bundled_file_holds_the_12346_classes_on_8_nodes_once_each():
    nx = pytest.importorskip("networkx")
    with one_thread():
        adj = graphs8().double()
        assert adj.shape == (GRAPHS8_COUNT, 8, 8) == (12346, 8, 8)
        assert set(adj.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(adj, adj.transpose(1, 2)) and not adj.diagonal(dim1=1, dim2=2).any()
        # pairwise non-isomorphic: graphs with different invariants are not isomorphic; the
        # (few, if any) with equal invariants are compared by an exact isomorphism test
        groups = collections.defaultdict(list)
        for row, key in enumerate(map(tuple, _power_sum_invariants(adj).tolist())):
            groups[key].append(row)
        for rows in (g for g in groups.values() if len(g) > 1):
            graphs = [nx.from_numpy_array(adj[r].numpy()) for r in rows]
            for x in range(len(graphs)):
                for y in range(x + 1, len(graphs)):
                    assert not nx.is_isomorphic(graphs[x], graphs[y]), (rows[x], rows[y])
        # 12,346 pairwise non-isomorphic graphs on 8 nodes: every class (OEIS A000088), and the
        # sub-counts by connectivity (A001349: 11,117) and by edges (1 empty, 1 complete) agree
        assert int(is_connected(adj).sum()) == 11117
        edges = adj.sum((1, 2)) / 2
        assert int((edges == 0).sum()) == int((edges == 28).sum()) == 1
        assert int((edges == 14).sum()) == 1646  # the middle of A008406's row for n = 8


def test_graph_classes_extend_the_atlas_by_the_8_node_graphs():
    adj8, n8, idx8 = graph_classes(8)
    assert adj8.shape == (ATLAS_SIZE + GRAPHS8_COUNT, 8, 8) == (13599, 8, 8)
    assert torch.equal(idx8, torch.arange(13599)) and int((n8 == 8).sum()) == 12346
    adj7, n7, idx7 = atlas_graphs()
    assert torch.equal(adj8[:ATLAS_SIZE, :7, :7], adj7) and not adj8[:ATLAS_SIZE, 7].any()
    assert torch.equal(graph_classes(7)[0], adj7) and torch.equal(n8[:ATLAS_SIZE], n7)
    assert graph_classes(5)[0].shape == (53, 5, 5)
    for bad in (9, -1, 2.5, True):
        with pytest.raises(ConfigError, match="max_nodes must be 0 to 8"):
            graph_classes(bad)


def test_class_split_holds_out_a_seeded_share_of_each_size():
    _, n_nodes, _ = graph_classes(8)
    test = class_split(n_nodes, 0.2, seed=5)
    assert torch.equal(test, class_split(n_nodes, 0.2, seed=5))
    assert not torch.equal(test, class_split(n_nodes, 0.2, seed=6))
    for k in range(9):
        rows = n_nodes == k
        assert int(test[rows].sum()) == round(0.2 * int(rows.sum())), k
    assert int(test.sum()) == 2719
    for bad in (0.0, 1.0, -0.1, 1.5, True, "0.2"):
        with pytest.raises(ConfigError, match="test_fraction must be a number strictly between"):
            class_split(n_nodes, bad)


@pytest.mark.parametrize("max_nodes", [5, 8])
def test_class_split_never_puts_a_class_in_both_train_and_test(max_nodes):
    nx = pytest.importorskip("networkx")
    train, test = graph_split("atlas", seed=1, max_nodes=max_nodes, train_copies=2,
                              test_copies=3, split="class", test_fraction=0.25)
    tr, te = set(train.graph_index.tolist()), set(test.graph_index.tolist())
    assert not tr & te
    assert tr | te == set(range(len(graph_classes(max_nodes)[2])))
    assert len(train) == 2 * len(tr) and len(test) == 3 * len(te)
    assert torch.equal(test.n_edges, (test.adjacency.sum((1, 2)) / 2).long())
    # every sample really is its class, relabelled over all slots (padding scattered)
    reps, n_nodes, _ = graph_classes(max_nodes)
    gen = torch.Generator().manual_seed(0)
    for graphs in (train, test):
        for row in torch.randint(len(graphs), (4,), generator=gen).tolist():
            c = int(graphs.graph_index[row])
            assert int(graphs.mask[row].sum()) == int(n_nodes[c])
            real = graphs.mask[row].nonzero().flatten()
            got = nx.from_numpy_array(graphs.adjacency[row][real][:, real].numpy())
            want = nx.from_numpy_array(reps[c, :n_nodes[c], :n_nodes[c]].numpy())
            assert nx.is_isomorphic(got, want)
    # a second labelling of the unseen graphs: same classes, other adjacencies
    again = relabel_set(test, 9)
    assert torch.equal(again.graph_index, test.graph_index)
    assert torch.equal(again.mask.sum(1), test.mask.sum(1))
    assert not torch.equal(again.adjacency, test.adjacency)


def test_relabel_split_keeps_every_class_in_both():
    train, test = graph_split("atlas", seed=0, max_nodes=8, split="relabel")
    assert torch.equal(train.graph_index, test.graph_index) and len(test) == 13599
    assert not torch.equal(train.adjacency, test.adjacency)
    with pytest.raises(ConfigError, match="split must be 'class'"):
        graph_split("atlas", split="graphs")
    with pytest.raises(ConfigError, match="max_nodes must be 0 to 8"):
        graph_split("atlas", max_nodes=9)
