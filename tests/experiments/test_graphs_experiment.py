"""graphs end to end on tiny settings, plus the atlas data, the split and the rigid-graph test."""

import contextlib
import dataclasses
import itertools
import json

import pytest
import torch

from quotient.actions import permute_graph
from quotient.data.graph_atlas import ATLAS_SIZE, atlas_graphs, make_atlas_graphs
from quotient.data.graphs import graph_split, rigid_graphs
from quotient.errors import ConfigError, DataError
from quotient.experiments import get, names
from quotient.experiments.graphs import (
    RECIPE,
    GraphsConfig,
    _baseline,
    build_model,
    check_data,
    load_data,
)
from quotient.experiments.recipe import evaluate_model
from quotient.groups import SymmetricGroup
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
    for key in ("edge_acc", "graph_acc", "rec_bce", "rec_mse", "inv_err_exact",
                "inv_err_exact_f64", "knn_acc", "canonical_agreement", "train_graph_acc",
                "train_seconds", "baseline_edge_acc", "baseline_graph_acc", "baseline_knn_acc",
                "baseline_inv_err_exact", "baseline_steps", "baseline_train_seconds"):
        assert key in metrics, key
    assert 0.5 < metrics["edge_acc"] <= 1.0 and 0.0 <= metrics["rec_mse"] <= 1.0
    assert metrics["inv_err_exact"] < 1e-5  # float32
    assert metrics["inv_err_exact_f64"] < 1e-10
    assert metrics["canon_same_exact"] == 1.0  # S A Sᵀ does not see the labelling
    assert metrics["knn_acc"] == 1.0 and metrics["canonical_agreement"] == 1.0
    # the order-dependent baseline's code moves under relabelling: the report sees it
    assert metrics["baseline_inv_err_exact"] > 1e-3
    assert metrics["steps"] == 12
    epochs = [json.loads(line) for line in (cli_run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in epochs if r.get("kind") == "epoch"]
    assert epochs and {"test_rec", "test_edge_acc", "test_graph_acc"} <= set(epochs[-1])
    for plot in ("reconstructions", "embedding", "learning_curve", "losses", "test_accuracy"):
        assert (cli_run / "plots" / f"{plot}.png").is_file()


def test_evaluate_reproduces_the_run(cli_run):
    from quotient.train import RunDir

    metrics = json.loads((cli_run / "metrics.json").read_text())
    with one_thread():
        again = get("graphs").evaluate(RunDir.open(cli_run))
    for key in ("edge_acc", "graph_acc", "rec_bce", "knn_acc", "inv_err_exact"):
        assert again[key] == pytest.approx(metrics[key], rel=1e-12), key
    assert not any(k.startswith("baseline_") for k in again)  # companions are not re-trained
    import quotient

    loaded = quotient.load(cli_run)  # rebuilt from the run folder alone
    with one_thread():
        assert loaded.report().metrics["inv_err_exact"] == metrics["inv_err_exact"]


def test_untrained_model_is_invariant_and_exactly_equivariant_on_rigid_graphs():
    """float64, graphs with up to 6 nodes: z is invariant on every graph; pose and
    reconstruction move exactly with the input on the 10 graphs without automorphisms (8 with
    six nodes, the empty graph, the single node), and not on the others (several node orders
    are canonical there)."""
    cfg = _tiny(dtype="float64", max_nodes=6, split="relabel")  # every class in the test set
    split = load_data(cfg)
    with one_thread():
        m = evaluate_model(RECIPE, cfg, build_model(cfg), split)
    assert m["inv_err_exact"] < 1e-12 and m["canonical_agreement"] == 1.0
    assert m["knn_acc"] == 1.0 and m["rigid_graphs"] == 10
    assert m["pose_err_exact_order_rigid"] == 0.0 and m["rec_err_exact_rigid"] < 1e-10
    assert m["pose_err_exact_order_mean"] > 0.5  # all graphs: automorphisms make it ambiguous


def test_the_classical_model_runs_on_its_own_and_is_not_invariant():
    cfg = _tiny(model="classical")
    split = load_data(cfg)
    with one_thread():
        m = evaluate_model(RECIPE, cfg, build_model(cfg), split)
    assert m["inv_err_exact"] > 1e-3 and "canonical_agreement" not in m
    assert 0.0 <= m["edge_acc"] <= 1.0


def test_sbm_graphs_load_and_evaluate():
    cfg = _tiny(data="sbm", sbm_nodes=6, sbm_train=24, sbm_test=12)
    split = load_data(cfg)
    assert split.train[0].shape == (24, 6, 6) and split.test[1].all()
    with one_thread():
        m = evaluate_model(RECIPE, cfg, build_model(cfg), split)
    assert 0.0 <= m["edge_acc"] <= 1.0 and m["inv_err_exact"] < 1e-5


def test_graph_split_is_seeded_and_holds_out_the_relabellings():
    train, test = graph_split("atlas", seed=3, max_nodes=5, train_copies=2, split="relabel")
    assert len(train) == 2 * len(test) == 2 * 53
    assert torch.equal(train.adjacency, graph_split("atlas", seed=3, max_nodes=5, train_copies=2,
                                                    split="relabel")[0].adjacency)
    assert torch.equal(torch.unique(train.graph_index), test.graph_index)
    assert not torch.equal(train.adjacency[::2], test.adjacency)  # other relabellings
    assert torch.equal(test.n_edges, (test.adjacency.sum((1, 2)) / 2).long())
    sbm_train, sbm_test = graph_split("sbm", seed=0, sbm_nodes=5, sbm_train=7, sbm_test=3,
                                      dtype=torch.float64)
    assert sbm_test.adjacency.dtype == torch.float64 and sbm_test.graph_index.tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="'atlas' or 'sbm'"):
        graph_split("grid")


def test_rigid_graphs_are_exactly_the_atlas_graphs_without_automorphisms():
    nx = pytest.importorskip("networkx")
    from networkx.algorithms.isomorphism import GraphMatcher

    adj, n_nodes, _ = atlas_graphs()
    mask = torch.arange(7)[None, :] < n_nodes[:, None]
    rigid = rigid_graphs(adj, mask)
    truth = torch.tensor([len(list(itertools.islice(GraphMatcher(g, g).isomorphisms_iter(),
                                                     2))) == 1 for g in nx.graph_atlas_g()])
    assert torch.equal(rigid, truth) and int(rigid.sum()) == 162  # sound and, here, complete
    # padding is left out: the same graphs padded to 9 slots, or with edges to padding
    padded = torch.zeros(ATLAS_SIZE, 9, 9)
    padded[:, :7, :7] = adj
    padded[:, 7, :], padded[:, :, 7] = 1.0, 1.0
    assert torch.equal(rigid_graphs(padded, torch.arange(9)[None, :] < n_nodes[:, None]), rigid)
    # a property of the graph, not of its labelling
    sigma = SymmetricGroup(7).sample(ATLAS_SIZE, generator=torch.Generator().manual_seed(0))
    moved, moved_mask = permute_graph(sigma, (adj, mask))
    assert torch.equal(rigid_graphs(moved, moved_mask), rigid)


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


def test_the_default_split_tests_on_classes_never_seen_in_training(cli_run):
    metrics = json.loads((cli_run / "metrics.json").read_text())
    # 4 nodes: 19 classes; 20 % of each size, rounded, is held out (1 of 4 with 3 nodes, 2 of 11
    # with 4 nodes)
    assert metrics["shared_classes"] == 0
    assert (metrics["train_classes"], metrics["test_classes"]) == (16, 3)
    cfg = _tiny()
    assert cfg.split == "class" and cfg.test_fraction == 0.2
    split = load_data(cfg)
    train, test, reference = (split.extras[k] for k in ("train", "test", "reference"))
    assert not set(train.graph_index.tolist()) & set(test.graph_index.tolist())
    # the retrieval set of the unseen classes: the same graphs under other labellings
    assert torch.equal(reference.graph_index, test.graph_index)
    assert not torch.equal(reference.adjacency, test.adjacency)


def test_8_node_graphs_load_with_the_class_split():
    cfg = _tiny(max_nodes=8, test_fraction=0.1)
    split = load_data(cfg)
    train, test = split.extras["train"], split.extras["test"]
    assert split.train[0].shape[1:] == (8, 8)
    # 10 % of each size, rounded: 0+0+0+0+1+3+16+104+1235 held out
    assert len(train) + len(test) == 13599 and len(test) == 1359
    assert not set(train.graph_index.tolist()) & set(test.graph_index.tolist())
    assert int((test.mask.sum(1) == 8).sum()) == round(0.1 * 12346)


def test_baseline_counts_steps_when_asked():
    cfg = _tiny(baseline_steps=7, baseline_minutes=5.0)
    with one_thread():
        m = _baseline(cfg, load_data(cfg))
    assert m["baseline_steps"] == 7 and m["baseline_stop_reason"] == "max_steps"
    assert m["baseline_inv_err_exact"] > 1e-3 and 0.0 <= m["baseline_graph_acc"] <= 1.0


@pytest.mark.parametrize(("change", "message"), [
    ({"max_nodes": 9}, "max_nodes=9: the built-in graphs go up to 8 nodes"),
    ({"max_nodes": -1}, "max_nodes=-1: the built-in graphs go up to 8 nodes"),
    ({"test_fraction": 0.0}, "test_fraction must be strictly between 0 and 1"),
    ({"test_fraction": 1.0}, "test_fraction must be strictly between 0 and 1"),
    ({"test_fraction": 1.5}, "test_fraction must be strictly between 0 and 1"),
    ({"split": "graphs"}, "split must be 'class'"),  # the CLI: "bad value for split"
    ({"baseline_steps": -1}, "baseline_steps must be >= 0"),
])
def test_bad_settings_raise_a_clear_error_before_a_run(change, message, tmp_path, capsys):
    with pytest.raises(ConfigError, match=message):
        check_data(_tiny(**change))
    with pytest.raises(ConfigError, match=message):
        load_data(_tiny(**change))
    from quotient.cli import main

    out = tmp_path / "run"
    sets = [f"{k}={v}" for k, v in change.items()]
    assert main(["train", "graphs", "--out", str(out), "--set", *TINY, *sets]) == 2
    err = capsys.readouterr().err
    assert (message if "split" not in change else "bad value for split") in err
    assert not out.exists()
