"""The second-order graph encoder and the individualisation pose: symmetry, masking, errors."""

import pytest
import torch

from quotient.actions import permute_graph, permute_set
from quotient.data.graph_atlas import make_atlas_graphs, relabel_graphs
from quotient.errors import DataError
from quotient.groups import SymmetricGroup
from quotient.nn.graph_pose import GraphPermutationPose, individualize
from quotient.nn.graphs import GraphEncoder, check_adjacency, permute_masked_graph
from quotient.testing import assert_equivariant, assert_invariant
from quotient.train import seeded


def _random_graphs(gen, b=6, n=7, real=5, dtype=torch.float64):
    """Random simple graphs with ``real`` real nodes scattered among ``n`` slots."""
    upper = (torch.rand(b, n, n, generator=gen) < 0.45).triu(1)
    adj = (upper | upper.transpose(1, 2)).to(dtype)
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[:, :real] = True
    adj = adj * (mask[:, :, None] & mask[:, None, :]).to(dtype)
    perm = torch.rand(b, n, generator=gen).argsort(1)
    return relabel_graphs(adj, mask, perm)


@pytest.fixture
def enc():
    with seeded(3):
        return GraphEncoder(16, channels=12, layers=2, pose_channels=8).double().eval()


def _edge_act(perm, e):
    """σ acting on an edge tensor (B, n, n, c) like on an adjacency."""
    return torch.stack([permute_graph(perm, e[..., k]) for k in range(e.shape[-1])], dim=-1)


def test_code_is_invariant_in_float64(enc, gen):
    x = _random_graphs(gen)
    rep = assert_invariant(lambda t: enc(t)[0], SymmetricGroup(7), permute_masked_graph, x,
                           generator=gen, n_elements=6)
    assert rep.error < 1e-10


def test_code_is_invariant_in_float32(gen):
    with seeded(4):
        enc32 = GraphEncoder(16, channels=12, layers=2, pose_channels=8).eval()
    x = _random_graphs(gen, dtype=torch.float32)
    rep = assert_invariant(lambda t: enc32(t)[0], SymmetricGroup(7), permute_masked_graph, x,
                           generator=gen, dtype=torch.float32)
    assert rep.error < 1e-5


def test_edge_features_and_scores_are_equivariant_in_float64(enc, gen):
    x = _random_graphs(gen)
    group = SymmetricGroup(7)
    assert_equivariant(lambda t: enc(t)[1].edge, group, permute_masked_graph, _edge_act, x,
                       generator=gen)
    assert_equivariant(lambda t: enc(t)[1].scores(), group, permute_masked_graph, permute_set,
                       x, generator=gen)
    # with marks: the marks move with the nodes
    chosen = torch.zeros(6, 7, dtype=torch.bool)
    chosen[:, 2] = True
    rank = torch.zeros(6, 7, dtype=torch.long)

    def scored(t):
        adj, mask, c = t
        c = c.bool()
        return enc((adj, mask))[1].scores(c & mask, rank, c & mask)

    assert_equivariant(scored, group, permute_masked_graph, permute_set,
                       (x[0], x[1], chosen.double()), generator=gen)


def test_node_features_move_with_the_nodes(gen):
    with seeded(7):
        enc = GraphEncoder(8, channels=8, layers=2, pose_channels=8, node_features=3).double()
    adj, mask = _random_graphs(gen)
    feats = torch.randn(6, 7, 3, generator=gen, dtype=torch.float64)
    assert_invariant(lambda t: enc.eval()(t)[0], SymmetricGroup(7), permute_masked_graph,
                     (adj, mask, feats), generator=gen)
    z = enc((adj, mask, feats))[0]
    assert (enc((adj, mask, feats.flip(-1)))[0] - z).abs().max() > 1e-9  # features are read
    with pytest.raises(DataError, match="node features"):
        enc((adj, mask))


def test_a_broken_encoder_fails_the_check(enc, gen):
    x = _random_graphs(gen)
    with pytest.raises(AssertionError):
        assert_invariant(lambda t: enc(t)[0] + t[0][:, 0, :3].sum(-1, keepdim=True),
                         SymmetricGroup(7), permute_masked_graph, x, generator=gen)


def test_padding_never_changes_the_code(enc, gen):
    adj, mask = _random_graphs(gen)
    z = enc((adj, mask))[0]
    junk = torch.rand(adj.shape, generator=gen, dtype=adj.dtype)
    junk = (junk + junk.transpose(1, 2)) * ~(mask[:, :, None] & mask[:, None, :])
    assert torch.equal(enc((adj + junk, mask))[0], z)
    # more padding slots: the same graphs padded to 10 nodes give the same code
    big = torch.zeros(6, 10, 10, dtype=adj.dtype)
    big[:, :7, :7] = adj
    big_mask = torch.zeros(6, 10, dtype=torch.bool)
    big_mask[:, :7] = mask
    torch.testing.assert_close(enc((big, big_mask))[0], z, rtol=1e-12, atol=1e-12)
    # and the scores of padded slots are exactly zero
    assert torch.all(enc((adj, mask))[1].scores()[~mask] == 0)


def test_second_order_encoder_separates_graphs_that_message_passing_cannot(enc):
    hexagon = torch.zeros(6, 6, dtype=torch.float64)
    triangles = torch.zeros(6, 6, dtype=torch.float64)
    for i in range(6):
        hexagon[i, (i + 1) % 6] = hexagon[(i + 1) % 6, i] = 1
    for a, b in [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]:
        triangles[a, b] = triangles[b, a] = 1
    z = enc(torch.stack([hexagon, triangles]))[0]  # both 2-regular: identical for 1-WL
    assert (z[0] - z[1]).abs().max() > 1e-9


@pytest.mark.parametrize("bad, words", [
    (torch.zeros(2, 3, 4), "square"),
    (torch.tensor([[[0.0, 1.0], [0.0, 0.0]]]), "symmetric"),
    (torch.full((1, 3, 3), float("nan")), "NaN"),
    (torch.zeros(3, 3), "batch dimension"),
    (torch.zeros(1, 3, 3, dtype=torch.long), "floating point"),
])
def test_bad_adjacency_gives_a_clear_error(bad, words, enc):
    with pytest.raises(ValueError, match=words) as info:
        enc(bad)
    assert isinstance(info.value, DataError)
    with pytest.raises(DataError):
        check_adjacency(bad)


def test_asymmetry_on_padding_is_ignored_and_mask_shape_is_checked():
    adj = torch.zeros(1, 3, 3)
    adj[0, 0, 2] = 1.0  # node 2 is padding
    mask = torch.tensor([[True, True, False]])
    assert torch.equal(check_adjacency(adj, mask), mask)
    with pytest.raises(DataError, match="mask"):
        check_adjacency(adj, mask[:, :2])


def _canonical(adj, order):
    n = adj.shape[-1]
    rows = torch.gather(adj, 1, order[:, :, None].expand(-1, -1, n))
    return torch.gather(rows, 2, order[:, None, :].expand(-1, n, -1))


def test_individualisation_gives_one_canonical_form_per_class(enc):
    # every graph with up to 6 nodes, two independent relabellings
    a = make_atlas_graphs(1, max_nodes=6, seed=1)
    b = make_atlas_graphs(1, max_nodes=6, seed=2)
    with torch.no_grad():
        ca = _canonical(a.adjacency, individualize(enc((a.adjacency.double(), a.mask))[1])[1])
        cb = _canonical(b.adjacency, individualize(enc((b.adjacency.double(), b.mask))[1])[1])
    assert torch.equal(ca, cb)


def test_sorting_once_is_not_canonical_for_a_path(enc):
    path = torch.zeros(1, 4, 4, dtype=torch.float64)
    for i in range(3):
        path[0, i, i + 1] = path[0, i + 1, i] = 1
    perms = SymmetricGroup(4).elements()
    graphs = permute_graph(perms, path.expand(24, -1, -1))
    forms = {}
    for method in ("individualize", "sort"):
        head = GraphPermutationPose(method=method).eval()
        with torch.no_grad():
            order = head(enc(graphs)[1]).element
        forms[method] = {tuple(c.flatten().tolist()) for c in _canonical(graphs, order)}
    assert len(forms["individualize"]) == 1
    assert len(forms["sort"]) > 1  # two tied orbits {ends}, {middle} broken independently


def test_pose_is_a_hard_permutation_with_a_soft_gradient(gen):
    with seeded(5):
        enc = GraphEncoder(8, channels=8, layers=1, pose_channels=8, pose_layers=1)
    adj, mask = _random_graphs(gen, dtype=torch.float32)
    head = GraphPermutationPose(mode="straight_through").train()
    pose = head(enc((adj, mask))[1])
    m = pose.matrix
    assert torch.equal(m.detach(), torch.nn.functional.one_hot(pose.element, 7).float())
    assert torch.equal(pose.element.sort(1).values, torch.arange(7).expand(6, -1))
    # real nodes come first in canonical order
    assert torch.equal(torch.gather(mask, 1, pose.element), mask.sort(1, descending=True).values)
    canon = torch.randn(6, 7, 7, generator=gen)
    (pose.apply(canon).sum() + pose.penalties["perm_entropy"]).backward()
    assert all(p.grad is not None for p in enc.pose_parameters())
    assert enc.score_head[-1].weight.grad.abs().sum() > 0


def test_empty_and_single_node_graphs():
    with seeded(6):
        enc = GraphEncoder(8, channels=8, layers=1, pose_channels=8, pose_layers=1).eval()
    adj = torch.zeros(2, 3, 3)
    mask = torch.tensor([[False, False, False], [False, True, False]])
    z, feats = enc((adj, mask))
    pose = GraphPermutationPose().eval()(feats)
    assert torch.isfinite(z).all() and torch.isfinite(pose.penalties["perm_entropy"])
    assert pose.element[1, 0] == 1  # the only real node comes first


def test_graph_pose_uses_the_exact_float_permutation_at_eval_and_in_hard_mode(enc, gen):
    """eval() (whatever the mode) and mode='hard' (also while training) reconstruct with the exact
    permutation matrix, in the features' dtype and carrying no gradient; both methods put the
    real nodes first."""
    adj, mask = _random_graphs(gen)
    feats = enc((adj, mask))[1]  # float64, and it carries the encoder's gradient
    heads = (GraphPermutationPose().eval(), GraphPermutationPose(mode="hard").train(),
             GraphPermutationPose(method="sort").eval())
    for head in heads:
        pose = head(feats)
        m = pose.matrix
        assert m.dtype == torch.float64 and not m.requires_grad
        assert torch.equal(m, torch.nn.functional.one_hot(pose.element, 7).double())
        assert torch.equal(torch.gather(mask, 1, pose.element),
                           mask.sort(1, descending=True).values)


def test_node_readout_is_the_diagonal_and_the_row_and_column_means_off_it():
    from quotient.nn.graphs import _node_readout

    e = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.float64)[..., None]  # (1, 2, 2, 1)
    h = _node_readout(e, torch.ones(1, 2, dtype=torch.bool),
                      torch.full((1, 1, 1, 1), 2.0, dtype=torch.float64))
    # node 0: E00 = 1, row E01/2 = 1, column E10/2 = 1.5; node 1: 4, E10/2 = 1.5, E01/2 = 1
    assert h.tolist() == [[[1.0, 1.0, 1.5], [4.0, 1.5, 1.0]]]


def test_hidden_layers_of_the_edge_mlps_are_rectified():
    from quotient.nn.graphs import _mlp

    assert [type(m) for m in _mlp([1, 4, 4, 2])] == [torch.nn.Linear, torch.nn.ReLU,
                                                    torch.nn.Linear, torch.nn.ReLU,
                                                    torch.nn.Linear]


def test_graphs_given_as_a_mapping_read_adjacency_mask_and_features():
    from quotient.nn.graphs import as_graph_batch

    adj = torch.zeros(1, 3, 3)
    adj[0, 0, 1] = adj[0, 1, 0] = 1.0
    mask = torch.tensor([[True, True, False]])
    feats = torch.ones(1, 3, 2)
    g = as_graph_batch({"adjacency": adj, "mask": mask, "node_features": feats})
    assert torch.equal(g.adjacency, adj) and torch.equal(g.mask, mask)
    assert torch.equal(g.node_features, feats)


def test_an_edge_block_with_its_mixing_switched_off_passes_its_input_through():
    """Blocks keeping the channel count are residual: with the normalised mix at zero the
    output is the input; blocks changing it are not (zero output)."""
    from quotient.nn.graphs import EdgeBlock

    e = torch.randn(1, 3, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pairs = torch.ones(1, 3, 3, 1, dtype=torch.float64)
    norm = torch.full((1, 1, 1, 1), 3.0, dtype=torch.float64)
    for c_out, expected in ((4, e), (5, torch.zeros(1, 3, 3, 5, dtype=torch.float64))):
        block = EdgeBlock(4, c_out, 6).double()
        with torch.no_grad():
            block.norm.weight.zero_()
            block.norm.bias.zero_()
        assert torch.equal(block(e, pairs, norm), expected)


def test_a_single_code_in_training_is_normalised_with_the_running_statistics():
    from quotient.nn.graphs import _CodeNorm

    norm = _CodeNorm(3).double().train()
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
        norm.running_var.copy_(torch.tensor([4.0, 9.0, 16.0]))
        norm.weight.copy_(torch.tensor([2.0, 3.0, 4.0]))
        norm.bias.copy_(torch.tensor([0.5, -0.5, 1.0]))
    x = torch.tensor([[3.0, 8.0, 11.0]], dtype=torch.float64)
    expected = (x - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps) * norm.weight \
        + norm.bias
    out = norm(x)
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)
    assert torch.allclose(out, torch.tensor([[2.5, 5.5, 9.0]], dtype=torch.float64), atol=1e-5)
    assert torch.equal(norm.running_mean, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))


def test_the_code_reads_mean_node_and_edge_invariants_and_the_size(gen):
    """With a shared trunk the pooled vector is [mean of h over real nodes, mean off-diagonal
    edge channel (over n²), n / n_ref], per graph — the batch never mixes."""
    with seeded(4):
        enc = GraphEncoder(8, channels=6, layers=1, pose_channels=0, batch_norm=False).double()
    seen = []
    enc.code_norm.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    adj, mask = _random_graphs(gen, b=3, n=6, real=4)
    mask[1, 4] = True  # graphs of different sizes in one batch
    _, feats = enc((adj, mask))
    pooled = seen[-1]
    n = mask.sum(1, keepdim=True).double()
    h, e = feats.node, feats.edge
    off = (e.sum(dim=(1, 2)) - torch.diagonal(e, dim1=1, dim2=2).sum(-1)) / n ** 2
    expected = torch.cat([h.sum(1) / n, off, n / enc.n_ref], dim=-1)
    assert torch.allclose(pooled, expected, rtol=0, atol=1e-12)


def test_walk_counts_add_normalised_powers_of_the_adjacency():
    """walks = 3: E⁰ holds A, I, A²/n and A³/n² (n real nodes) on real pairs."""
    from quotient.nn.graphs import as_graph_batch

    with seeded(0):
        enc = GraphEncoder(4, channels=4, layers=1, walks=3).double()
    adj = torch.zeros(1, 4, 4, dtype=torch.float64)
    for i, j in ((0, 1), (1, 2)):  # a path on the 3 real nodes 0-1-2, node 3 padding
        adj[0, i, j] = adj[0, j, i] = 1.0
    mask = torch.tensor([[True, True, True, False]])
    pairs, _ = enc._norms(mask, torch.float64)
    e0 = enc._inputs(as_graph_batch((adj, mask)), torch.float64, pairs)
    assert e0.shape == (1, 4, 4, 4)
    a = adj[0]
    assert torch.equal(e0[0, ..., 0], a)
    assert torch.equal(e0[0, ..., 1], torch.diag(mask[0].double()))
    assert torch.allclose(e0[0, ..., 2], a @ a / 3, rtol=0, atol=1e-15)
    assert torch.allclose(e0[0, ..., 3], a @ a @ a / 9, rtol=0, atol=1e-15)


@pytest.mark.parametrize("shift", [-100.0, 100.0])
def test_sorting_once_puts_real_nodes_first_whatever_the_sign_of_their_scores(enc, gen, shift):
    """Padded nodes score 0; the 'sort' method masks them, so real nodes come first even when
    every real score lies on the far side of 0."""
    with torch.no_grad():
        enc.score_head[-1].bias.add_(shift)
    adj, mask = _random_graphs(gen)
    feats = enc((adj, mask))[1]
    real = feats.scores()[mask]
    assert bool((real < 0).all()) if shift < 0 else bool((real > 0).all())
    order = GraphPermutationPose(method="sort").eval()(feats).element
    assert torch.equal(torch.gather(mask, 1, order), mask.sort(1, descending=True).values)
