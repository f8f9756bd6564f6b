"""The graph GIAE: symmetric canonical decoding, exact relabelling, masked loss, learning."""

import contextlib
import itertools

import pytest
import torch

from quotient.actions import permute_graph
from quotient.data.graph_atlas import make_atlas_graphs, relabel_graphs
from quotient.groups import SymmetricGroup
from quotient.metrics.graphs import graph_accuracy
from quotient.models.graph_giae import (
    NO_EDGE_LOGIT,
    AdjacencyDecoder,
    GraphGIAE,
    GraphMLPAutoencoder,
    edge_probabilities,
    masked_edge_bce,
)
from quotient.nn.graphs import permute_masked_graph
from quotient.testing import assert_equivariant
from quotient.train import seeded


@contextlib.contextmanager
def one_thread():
    """Tiny tensors: one intra-op thread is fastest (and robust on shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


SMALL = dict(latent_dim=8, channels=8, layers=2, pose_channels=8, pose_layers=1,
             decoder_hidden=32, decoder_layers=1)


def _graphs(gen, b=5, n=6, dtype=torch.float64):
    upper = (torch.rand(b, n, n, generator=gen) < 0.5).triu(1)
    adj = (upper | upper.transpose(1, 2)).to(dtype)
    mask = torch.arange(n)[None, :] < torch.randint(2, n + 1, (b, 1), generator=gen)
    adj = adj * (mask[:, :, None] & mask[:, None, :]).to(dtype)
    return relabel_graphs(adj, mask, torch.rand(b, n, generator=gen).argsort(1))


def test_decoder_output_is_symmetric_without_self_loops(gen):
    dec = AdjacencyDecoder(4, n_nodes=6, hidden=16)
    logits = dec(torch.randn(3, 4, generator=gen))
    assert logits.shape == (3, 6, 6)
    assert torch.equal(logits, logits.transpose(1, 2))
    assert torch.all(torch.diagonal(logits, dim1=1, dim2=2) == NO_EDGE_LOGIT)
    probs = edge_probabilities(logits, torch.tensor([[True] * 4 + [False] * 2] * 3))
    assert torch.all(torch.diagonal(probs, dim1=1, dim2=2) == 0)
    assert torch.all(probs[:, 4:] == 0) and torch.all(probs[:, :, 4:] == 0)
    assert torch.equal(probs, probs.transpose(1, 2))


def _asymmetric_graphs():
    """Atlas graphs whose only automorphism is the identity, relabelled: for them the pose is
    unique, so even untrained reconstructions must move exactly with the input."""
    import networkx as nx
    from networkx.algorithms.isomorphism import GraphMatcher

    data = make_atlas_graphs(1, n_max=6, max_nodes=6, min_nodes=6, seed=5)
    atlas = nx.graph_atlas_g()
    keep = [row for row, i in enumerate(data.graph_index.tolist())
            if len(list(itertools.islice(GraphMatcher(atlas[i], atlas[i]).isomorphisms_iter(),
                                         2))) == 1]
    idx = torch.tensor(keep)
    return data.adjacency[idx].double(), data.mask[idx]


def test_reconstruction_relabels_the_canonical_exactly(gen):
    with seeded(1):
        model = GraphGIAE(6, **SMALL).double().eval()
    x = _graphs(gen)
    out = model(x)
    # reconstruction = σ·canonical with σ = order (canonical slot t -> node order[t])
    assert torch.equal(out.reconstruction, permute_graph(out.pose.element, out.canonical))


def test_reconstruction_is_equivariant_up_to_automorphisms(gen):
    with seeded(1):
        model = GraphGIAE(6, **SMALL).double().eval()
    x = _asymmetric_graphs()
    assert len(x[0]) >= 5
    assert_equivariant(lambda t: edge_probabilities(model(t).reconstruction, t[1]),
                       SymmetricGroup(6), permute_masked_graph, permute_graph, x, generator=gen)
    # a symmetric graph (a path) is reconstructed equivariantly only once the decoder is exact:
    # the untrained canonical logits differ from their image under the path's flip
    path = torch.zeros(1, 6, 6, dtype=torch.float64)
    for i in range(5):
        path[0, i, i + 1] = path[0, i + 1, i] = 1
    with pytest.raises(AssertionError):
        assert_equivariant(lambda t: edge_probabilities(model(t).reconstruction),
                           SymmetricGroup(6), permute_graph, permute_graph, path,
                           elements=SymmetricGroup(6).elements()[:120:7])


def test_loss_counts_only_real_pairs_above_the_diagonal(gen):
    adj, mask = _graphs(gen)
    logits = torch.randn(adj.shape, generator=gen, dtype=adj.dtype)
    logits = logits + logits.transpose(1, 2)
    loss = masked_edge_bce(logits, (adj, mask))
    outside = ~(mask[:, :, None] & mask[:, None, :]) | torch.eye(6, dtype=torch.bool)
    changed = logits + 50.0 * outside
    assert torch.equal(masked_edge_bce(changed, (adj, mask)), loss)
    inside = logits.clone()
    i = int(mask[0].nonzero()[0])
    j = int(mask[0].nonzero()[1])
    inside[0, i, j] = inside[0, j, i] = inside[0, i, j] + 5.0
    assert masked_edge_bce(inside, (adj, mask)) != loss
    with pytest.raises(ValueError, match="decoder"):
        masked_edge_bce(logits[:, :5, :5], (adj, mask))


def test_loss_is_invariant_under_relabelling(gen):
    with seeded(2):
        model = GraphGIAE(6, **SMALL).double().eval()
    adj, mask = _graphs(gen)
    sigma = SymmetricGroup(6).sample(adj.shape[0], generator=gen)
    moved = permute_masked_graph(sigma, (adj, mask))
    with torch.no_grad():
        a, _ = model.loss((adj, mask))
        b, _ = model.loss(moved)
    assert abs(float(a) - float(b)) < 1e-10


def test_a_few_graphs_are_learned_exactly_and_relabellings_come_for_free():
    # the 17 graphs with 2 to 4 nodes, one labelling each; held out: fresh labellings
    data = make_atlas_graphs(1, n_max=4, max_nodes=4, min_nodes=2, seed=0)
    with seeded(3):
        model = GraphGIAE(4, latent_dim=16, channels=16, layers=2, pose_channels=8,
                          pose_layers=1, decoder_hidden=64)
    pose = {id(p) for p in model.encoder.pose_parameters()}
    opt = torch.optim.Adam([p for p in model.parameters() if id(p) not in pose], lr=1e-2)
    steps = 200
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / steps)
    x = (data.adjacency, data.mask)
    with one_thread():
        for _ in range(steps):
            loss, _ = model.loss(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    model.eval()
    held_out = make_atlas_graphs(3, n_max=4, max_nodes=4, min_nodes=2, seed=99)
    with torch.no_grad():
        rec = model((held_out.adjacency, held_out.mask)).reconstruction
    probs = edge_probabilities(rec, held_out.mask)
    assert graph_accuracy(probs, held_out.adjacency, held_out.mask) == 1.0


def test_classical_autoencoder_is_order_dependent(gen):
    with seeded(4):
        model = GraphMLPAutoencoder(6, latent_dim=8, hidden=16, layers=1).double()
    adj, mask = _graphs(gen)
    sigma = SymmetricGroup(6).sample(adj.shape[0], generator=gen)
    out = model((adj, mask))
    assert out.reconstruction.shape == adj.shape
    assert torch.equal(out.reconstruction, out.reconstruction.transpose(1, 2))
    z_moved = model.embed(permute_masked_graph(sigma, (adj, mask)))
    assert (z_moved - out.z).abs().max() > 1e-6
    with pytest.raises(ValueError, match="padded to 6"):
        model.embed(torch.zeros(1, 5, 5, dtype=torch.float64))


def test_pose_network_trains_at_its_own_rate_and_stays_fixed_at_zero(gen):
    from quotient.models.pose_lr import pose_lr_optimizer
    from quotient.train import TrainConfig

    with seeded(0):
        model = GraphGIAE(6, **SMALL).double()
    train = TrainConfig(lr=1e-2, optimizer="adam")
    opt = pose_lr_optimizer(model, train, 0.0)(model.parameters())
    pose = {id(p) for p in model.encoder.pose_parameters()}
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 0.0]
    assert {id(p) for p in opt.param_groups[1]["params"]} == pose and pose
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    loss, _ = model.loss(_graphs(gen))
    loss.backward()
    opt.step()
    moved = [not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)]
    is_pose = [id(p) in pose for p in model.parameters()]
    assert not any(m for m, q in zip(moved, is_pose, strict=True) if q)  # μ fixed at scale 0
    assert any(m for m, q in zip(moved, is_pose, strict=True) if not q)
    assert pose_lr_optimizer(model, train, 0.05)(None).param_groups[1]["lr"] == \
        pytest.approx(5e-4)
    assert pose_lr_optimizer(GraphMLPAutoencoder(6), train, 0.0) is None  # no pose network


def test_code_is_invariant_in_float64_on_graphs_with_8_nodes(gen):
    """z of the 8-slot model under random relabellings of all slots, float64, relative error
    ≤ 1e-10: 120 of the bundled 8-node graphs and 40 smaller ones padded to 8 slots."""
    from quotient.data.graph_classes import graph_classes
    from quotient.testing import assert_invariant

    adj, n_nodes, _ = graph_classes(8)
    rows = torch.cat([torch.randperm(1253, generator=gen)[:40],
                      1253 + torch.randperm(12346, generator=gen)[:120]])
    mask = torch.arange(8)[None, :] < n_nodes[rows, None]
    x = relabel_graphs(adj[rows].double(), mask, torch.rand(160, 8, generator=gen).argsort(1))
    with seeded(6):
        model = GraphGIAE(8, **SMALL).double().eval()
    with one_thread(), torch.no_grad():
        report = assert_invariant(lambda t: model(t).z, SymmetricGroup(8), permute_masked_graph,
                                  x, generator=gen, tol=1e-10)
    assert report.error <= 1e-10
