"""graphs end to end on tiny settings, plus the atlas data and the graph metrics."""

import contextlib
import dataclasses
import json

import pytest
import torch

from quotient.actions import permute_graph
from quotient.data.graph_atlas import ATLAS_SIZE, atlas_graphs, make_atlas_graphs
from quotient.errors import DataError
from quotient.experiments import get, names
from quotient.experiments.graphs import GraphsConfig, build_model, evaluate_model, load_graphs
from quotient.metrics.graphs import (
    edge_accuracy,
    graph_accuracy,
    isomorphism_retrieval,
    pack_graphs,
    unpack_graphs,
)
from quotient.train import TrainConfig

TINY = ["max_nodes=4", "train.batch_size=8", "train.max_steps=12", "train.log_every=4",
        "train.checkpoint_every=6", "train.progress=false", "train.device=cpu",
        "train.time_limit_minutes=2", "eval_every=1", "baseline_minutes=0.005", "channels=8",
        "latent_dim=8", "pose_channels=8", "pose_layers=1", "layers=1", "decoder_hidden=32",
        "train_copies=2"]


@contextlib.contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tiny(**kw) -> GraphsConfig:
    train = TrainConfig(epochs=100, batch_size=8, lr=2e-3, optimizer="adam", max_steps=12,
                        progress=False, device="cpu")
    cfg = GraphsConfig(train=train, max_nodes=4, channels=8, latent_dim=8, pose_channels=8,
                       pose_layers=1, layers=1, decoder_hidden=32, baseline_minutes=0.0)
    return dataclasses.replace(cfg, **kw)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from quotient.cli import main

    out = tmp_path_factory.mktemp("graphs") / "run"
    with one_thread():
        assert main(["train", "graphs", "--out", str(out), "--set", *TINY]) == 0
    return out


def test_registered():
    assert "graphs" in names()
    assert get("graphs").config_cls is GraphsConfig


def test_cli_run_writes_the_metrics_contract_and_plots(cli_run):
    metrics = json.loads((cli_run / "metrics.json").read_text())
    for key in ("edge_acc", "graph_acc", "rec_bce", "rec_mse", "inv_err", "knn_acc",
                "canonical_agreement", "train_seconds", "inv_err_f64", "baseline_edge_acc",
                "baseline_graph_acc", "baseline_knn_acc", "baseline_inv_err"):
        assert key in metrics, key
    assert 0.5 < metrics["edge_acc"] <= 1.0
    assert metrics["inv_err"] < 1e-5  # float32
    assert metrics["inv_err_f64"] < 1e-10
    assert metrics["knn_acc"] == 1.0 and metrics["canonical_agreement"] == 1.0
    assert metrics["steps"] == 12
    for plot in ("reconstructions", "embedding", "learning_curve", "test_accuracy"):
        assert (cli_run / "plots" / f"{plot}.png").is_file()


def test_evaluate_reproduces_the_run(cli_run):
    from quotient.train import RunDir

    metrics = json.loads((cli_run / "metrics.json").read_text())
    with one_thread():
        again = get("graphs").evaluate(RunDir.open(cli_run))
    assert again["edge_acc"] == pytest.approx(metrics["edge_acc"])
    assert again["graph_acc"] == pytest.approx(metrics["graph_acc"])


def test_untrained_model_is_exactly_invariant_in_float64():
    cfg = _tiny(dtype="float64")
    train, test = load_graphs(cfg)
    with one_thread():
        m = evaluate_model(build_model(cfg), test, train, cfg)
    assert m["inv_err"] < 1e-12
    assert m["canonical_agreement"] == 1.0
    assert m["knn_acc"] == 1.0


def test_sbm_graphs_load_and_evaluate():
    cfg = _tiny(data="sbm", sbm_nodes=6, sbm_train=24, sbm_test=12)
    train, test = load_graphs(cfg)
    assert train["adjacency"].shape == (24, 6, 6) and test["mask"].all()
    with one_thread():
        m = evaluate_model(build_model(cfg), test, None, cfg)
    assert 0.0 <= m["edge_acc"] <= 1.0 and m["inv_err"] < 1e-5


def test_atlas_has_every_graph_once_and_relabellings_are_isomorphic():
    nx = pytest.importorskip("networkx")
    adj, n_nodes, index = atlas_graphs()
    assert adj.shape == (ATLAS_SIZE, 7, 7) and int(n_nodes.max()) == 7
    assert torch.equal(adj, adj.transpose(1, 2)) and not adj.diagonal(dim1=1, dim2=2).any()
    data = make_atlas_graphs(2, seed=3)
    assert len(data) == 2 * ATLAS_SIZE
    assert torch.equal(data.mask.sum(1), data.n_nodes)
    # the stored permutation maps the atlas layout onto the sample
    base = make_atlas_graphs(2, relabel=False)
    assert torch.equal(permute_graph(data.perm, base.adjacency), data.adjacency)
    for k in (200, 901, 2400):
        a = nx.from_numpy_array(data.adjacency[k].numpy())
        a.remove_nodes_from([i for i in range(7) if not data.mask[k, i]])
        assert nx.is_isomorphic(a, nx.graph_atlas(int(data.graph_index[k])))
    assert not torch.equal(make_atlas_graphs(1, seed=4).adjacency, data.adjacency[::2])
    assert torch.equal(make_atlas_graphs(1, seed=4).adjacency,
                       make_atlas_graphs(1, seed=4).adjacency)
    with pytest.raises(DataError, match="n_max"):
        make_atlas_graphs(1, n_max=5)


def test_graph_metrics():
    adj = torch.zeros(2, 3, 3)
    adj[:, 0, 1] = adj[:, 1, 0] = 1.0
    mask = torch.tensor([[True, True, True], [True, True, False]])
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
