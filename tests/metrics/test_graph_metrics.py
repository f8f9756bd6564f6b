"""Graph metrics: accuracies, reconstruction figures from logits, canonical forms and their
agreement, and the rigid-graph breakdown of a symmetry report."""

import pytest
import torch

from quotient.metrics import SymmetryReport
from quotient.metrics.graphs import (
    canonical_agreement,
    canonical_graphs,
    edge_accuracy,
    graph_accuracy,
    graph_reconstruction_metrics,
    isomorphism_retrieval,
    pack_graphs,
    rigid_breakdown,
    unpack_graphs,
)


def _path_graphs():
    adj = torch.zeros(2, 3, 3)
    adj[:, 0, 1] = adj[:, 1, 0] = 1.0
    return adj, torch.tensor([[True, True, True], [True, True, False]])


def test_graph_metrics():
    adj, mask = _path_graphs()
    pred = adj.clone()
    pred[0, 1, 2] = pred[0, 2, 1] = 0.9  # one wrong pair in graph 0
    pred[1, 0, 2] = pred[1, 2, 0] = 0.9  # padding: never scored
    assert edge_accuracy(pred, adj, mask) == pytest.approx(3 / 4)
    assert graph_accuracy(pred, adj, mask) == pytest.approx(1 / 2)
    packed = pack_graphs(adj, mask)
    back = unpack_graphs(packed)
    assert torch.equal(back[0], adj) and torch.equal(back[1], mask)
    z = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    assert isomorphism_retrieval(z + 0.1, torch.arange(3), z, torch.arange(3)) == 1.0
    assert isomorphism_retrieval(z.flip(0), torch.arange(3), z, torch.arange(3)) == \
        pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape"):
        edge_accuracy(pred[:, :2], adj, mask)


def test_reconstruction_figures_score_real_pairs_above_the_diagonal_only():
    adj, mask = _path_graphs()
    logits = torch.where(adj > 0, 2.0, -2.0).double()
    logits[0, 1, 2] = logits[0, 2, 1] = 1.0       # wrong: graph 0 is not exact
    logits[1, 0, 2] = logits[1, 2, 0] = 50.0      # padding: never scored
    logits.diagonal(dim1=1, dim2=2).fill_(50.0)   # the diagonal: never scored
    m = graph_reconstruction_metrics(logits, adj, mask)
    assert m["edge_acc"] == pytest.approx(3 / 4) and m["graph_acc"] == pytest.approx(1 / 2)
    # the four scored pairs: (0,1) and (0,2), (1,2) of graph 0; (0,1) of graph 1
    s = torch.sigmoid(torch.tensor([2.0, -2.0, 1.0, 2.0], dtype=torch.float64))
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    assert m["rec_mse"] == pytest.approx(float((s - y).pow(2).mean()), rel=1e-12)
    bce = -(y * s.log() + (1 - y) * (1 - s).log()).mean()
    assert m["rec_bce"] == pytest.approx(float(bce), rel=1e-12)


def test_canonical_forms_of_relabelled_graphs_agree(gen):
    adj = (torch.rand(4, 5, 5, generator=gen) < 0.5).double().triu(1)
    adj = adj + adj.transpose(1, 2)
    order = torch.stack([torch.randperm(5, generator=gen) for _ in range(4)])
    canon = canonical_graphs(adj, order)
    assert torch.equal(canon[0], adj[0][order[0]][:, order[0]])  # S A Sᵀ
    # relabel by σ and compose the order, σ∘order: the same canonical graphs
    sigma = torch.stack([torch.randperm(5, generator=gen) for _ in range(4)])
    inv = sigma.argsort(1)
    moved = torch.stack([adj[b][inv[b]][:, inv[b]] for b in range(4)])
    assert torch.equal(canonical_graphs(moved, torch.gather(sigma, 1, order)), canon)
    classes = torch.tensor([0, 1, 2, 3])
    assert canonical_agreement(canon, classes, canon, classes) == 1.0
    # compared with the first reference of each class: a changed canonical form disagrees
    other = canon.clone()
    other[1, 0, 1] = other[1, 1, 0] = 1.0 - other[1, 0, 1]
    refs = torch.cat([canon, other[1:2]])
    assert canonical_agreement(other, classes, refs, torch.tensor([0, 1, 2, 3, 1])) == 0.75
    with pytest.raises(ValueError, match=r"classes \[7\]"):
        canonical_agreement(canon[:1], torch.tensor([7]), canon, classes)


def test_rigid_breakdown_measures_pose_and_reconstruction_on_rigid_samples_only():
    report = SymmetryReport(samples={
        "exact": {"inv": torch.tensor([1e-7, 2e-7, 3e-7, 4e-7]),
                  "pose_order": torch.tensor([0.0, 1.0, 0.0, 1.0]),
                  "rec": torch.tensor([1e-7, 0.5, 2e-7, 0.3])},
        "exact_f64": {"inv": torch.tensor([1e-16, 1e-16]),
                      "pose_order": torch.tensor([0.0, 1.0]),
                      "rec": torch.tensor([3e-16, 0.5])}})
    rigid = torch.tensor([True, False, True, False])
    out = rigid_breakdown(report, rigid)
    assert out == {"pose_err_exact_order_rigid": 0.0, "pose_err_exact_order_rigid_mean": 0.0,
                   "rec_err_exact_rigid": pytest.approx(2e-7), "rigid_graphs": 2,
                   "pose_err_exact_order_rigid_f64": 0.0,
                   "rec_err_exact_rigid_f64": pytest.approx(3e-16)}
    # a pose that is wrong on a rigid graph shows up
    broken = rigid_breakdown(report, torch.tensor([True, True, False, False]))
    assert broken["pose_err_exact_order_rigid"] == 1.0 and broken["rec_err_exact_rigid"] == 0.5
    assert rigid_breakdown(report, torch.zeros(4, dtype=torch.bool)) == {}
    assert rigid_breakdown(SymmetryReport(samples={"exact": {"inv": torch.ones(4)}}),
                           rigid) == {}
