"""Digit sets, stochastic-block-model graphs, shifted signals, triangle/pentagon segmentation."""

from __future__ import annotations

import random
import sys
import types

import numpy as np
import pytest
import torch

from quotient.data import (
    is_connected,
    make_digit_sets,
    make_mnist1d,
    make_polygon_segmentation,
    make_sbm_graphs,
    make_shifted_signals,
    rasterize_polygons,
)

# --- digit sets -----------------------------------------------------------------------------


def test_digit_sets() -> None:
    data = make_digit_sets(500, seed=0)
    assert data.onehot.shape == (500, 20, 10) and data.onehot.dtype == torch.float32
    assert data.digits.shape == (500, 20) and data.digits.dtype == torch.int64
    assert torch.equal(data.onehot.argmax(-1), data.digits)
    assert torch.equal(data.onehot.sum(-1), torch.ones(500, 20))
    freq = torch.bincount(data.digits.flatten(), minlength=10).float() / data.digits.numel()
    assert (freq - 0.1).abs().max() < 0.015
    small = make_digit_sets(3, set_size=4, n_classes=3, seed=0)
    assert small.onehot.shape == (3, 4, 3) and small.digits.max() < 3


def test_digit_sets_seeded_and_checked() -> None:
    assert torch.equal(make_digit_sets(5, seed=1).digits, make_digit_sets(5, seed=1).digits)
    assert not torch.equal(make_digit_sets(5, seed=1).digits, make_digit_sets(5, seed=2).digits)
    with pytest.raises(ValueError, match="set_size must be an integer >= 1"):
        make_digit_sets(5, set_size=0)
    with pytest.raises(ValueError, match="n_sets must be an integer"):
        make_digit_sets(2.5)  # type: ignore[arg-type]


# --- graphs ---------------------------------------------------------------------------------


def test_sbm_graphs_structure() -> None:
    data = make_sbm_graphs(300, seed=0)
    a = data.adjacency
    assert a.shape == (300, 10, 10) and a.dtype == torch.float32
    assert torch.equal(a, a.transpose(1, 2))
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert (a.diagonal(dim1=1, dim2=2) == 0).all()
    assert data.blocks.shape == (300, 10) and data.blocks.dtype == torch.int64
    assert data.connected.shape == (300,) and data.connected.dtype == torch.int64
    assert 0.3 < data.connected.float().mean() < 0.75  # both labels well represented


def test_sbm_block_probabilities() -> None:
    data = make_sbm_graphs(2000, n_blocks=2, p_in=0.7, p_out=0.1, seed=1)
    same = data.blocks.unsqueeze(2) == data.blocks.unsqueeze(1)
    off = ~torch.eye(10, dtype=torch.bool)
    assert abs(data.adjacency[same & off].mean().item() - 0.7) < 0.02
    assert abs(data.adjacency[~same].mean().item() - 0.1) < 0.02


def test_connected_label_matches_networkx() -> None:
    nx = pytest.importorskip("networkx", reason="networkx (test extra) checks the label")
    data = make_sbm_graphs(200, n_nodes=9, seed=2)
    expected = [nx.is_connected(nx.from_numpy_array(g.numpy())) for g in data.adjacency]
    assert data.connected.tolist() == [int(e) for e in expected]


def test_is_connected_small_cases() -> None:
    path = torch.zeros(5, 5)
    for i in range(4):
        path[i, i + 1] = path[i + 1, i] = 1
    assert bool(is_connected(path))
    cut = path.clone()
    cut[2, 3] = cut[3, 2] = 0
    assert is_connected(torch.stack([path, cut])).tolist() == [True, False]
    assert bool(is_connected(torch.zeros(1, 1)))
    with pytest.raises(ValueError, match=r"adjacency must be \(N, n, n\)"):
        is_connected(torch.zeros(3, 4))


def test_sbm_seeded_and_checked() -> None:
    a, b = make_sbm_graphs(5, seed=3), make_sbm_graphs(5, seed=3)
    assert torch.equal(a.adjacency, b.adjacency)
    assert not torch.equal(a.adjacency, make_sbm_graphs(5, seed=4).adjacency)
    with pytest.raises(ValueError, match=r"p_in must be a probability in \[0, 1\]"):
        make_sbm_graphs(5, p_in=1.5)


# --- signals --------------------------------------------------------------------------------


def test_shifted_signals() -> None:
    data = make_shifted_signals(200, length=32, n_classes=4, noise=0.1, seed=0)
    assert data.signals.shape == (200, 1, 32) and data.signals.dtype == torch.float32
    assert data.labels.dtype == torch.int64 and data.shifts.dtype == torch.int64
    assert torch.bincount(data.labels).tolist() == [50] * 4
    assert data.shifts.min() >= 0 and data.shifts.max() < 32 and data.shifts.unique().numel() > 20
    t = data.templates
    assert t.shape == (4, 3, 32)
    assert torch.allclose(t.mean(-1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(t.std(-1), torch.ones(4, 3), atol=1e-5)
    # undoing the recorded shift recovers the template up to the noise
    rolled = torch.stack([torch.roll(t[c, k], int(s)) for c, k, s in
                          zip(data.labels, data.template_index, data.shifts, strict=True)])
    residual = data.signals[:, 0] - rolled
    assert abs(residual.std().item() - 0.1) < 0.01


def test_shifted_signals_seeds() -> None:
    a = make_shifted_signals(20, seed=0)
    b = make_shifted_signals(20, seed=0)
    c = make_shifted_signals(20, seed=1)
    assert torch.equal(a.signals, b.signals) and not torch.equal(a.shifts, c.shifts)
    assert torch.equal(a.templates, c.templates)  # templates depend on template_seed only
    d = make_shifted_signals(20, seed=0, template_seed=1)
    assert not torch.equal(a.templates, d.templates)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_shifted_signals(5, noise=-1.0)


def fake_mnist1d(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Install a stand-in ``mnist1d`` that reseeds the global generators like the real one."""
    calls: list[object] = []

    def get_dataset_args(as_dict: bool = False) -> object:
        return types.SimpleNamespace(num_samples=5000, seed=42, final_seq_length=40,
                                     train_split=0.8)

    def make_dataset(args: object) -> dict[str, np.ndarray]:
        calls.append(args)
        random.seed(args.seed)
        np.random.seed(args.seed)
        n, length = args.num_samples, args.final_seq_length
        x = np.random.randn(n, length)
        y = np.arange(n) % 10
        k = int(n * args.train_split)
        return {"x": x[:k], "y": y[:k], "x_test": x[k:], "y_test": y[k:]}

    pkg, sub = types.ModuleType("mnist1d"), types.ModuleType("mnist1d.data")
    sub.get_dataset_args, sub.make_dataset = get_dataset_args, make_dataset
    pkg.data = sub
    monkeypatch.setitem(sys.modules, "mnist1d", pkg)
    monkeypatch.setitem(sys.modules, "mnist1d.data", sub)
    return calls


def test_mnist1d_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_mnist1d(monkeypatch)
    np_state, py_state = np.random.get_state(), random.getstate()
    train, test = make_mnist1d(100, seed=7, final_seq_length=30)
    assert calls[0].num_samples == 100 and calls[0].seed == 7
    assert train.signals.shape == (80, 1, 30) and train.signals.dtype == torch.float32
    assert test.labels.shape == (20,) and test.labels.dtype == torch.int64
    # global generators restored
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    with pytest.raises(ValueError, match=r"unknown mnist1d arguments \['bogus'\]"):
        make_mnist1d(10, bogus=1)


def test_mnist1d_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"pip install 'quotient\[signals\]'"):
        make_mnist1d(10)


# --- triangle / pentagon segmentation -------------------------------------------------------


def test_rasterizer_square_and_triangle() -> None:
    square = torch.tensor([[[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]]])
    mask = rasterize_polygons(square, 6)
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[1:4, 1:4] = True  # pixel centres 1.5, 2.5, 3.5 lie inside
    assert torch.equal(mask[0], expected)
    tri = torch.tensor([[[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]]])
    m = rasterize_polygons(tri, 6)[0]
    assert m.sum() == 21 and m[0, 0] and not m[5, 5]  # centres with x + y <= 6
    with pytest.raises(ValueError, match=r"vertices must be \(N, m >= 3, 2\)"):
        rasterize_polygons(torch.zeros(1, 2, 2), 6)


def test_polygon_segmentation() -> None:
    data = make_polygon_segmentation(300, seed=0)
    assert data.images.shape == (300, 1, 14, 14) and data.images.dtype == torch.float32
    assert data.targets.shape == (300, 14, 14) and data.targets.dtype == torch.int64
    assert set(data.targets.unique().tolist()) == {0, 1, 2}
    assert torch.equal(data.images[:, 0] > 0, data.targets > 0)
    assert (data.kinds[:, 0] > 0).all() and (data.kinds[:, 1] > 0).float().mean() > 0.6
    # pentagons have more pixels than triangles of the same radius range
    areas = {k: (data.targets == k).sum().item() / (data.kinds == k).sum().item() for k in (1, 2)}
    assert areas[2] > 1.4 * areas[1] > 10
    # every image holds exactly the classes of its placed shapes
    for target, kinds in zip(data.targets[:50], data.kinds[:50], strict=True):
        present = set(target.unique().tolist()) - {0}
        assert present == set(kinds.tolist()) - {0}


def test_polygon_distribution_is_c4_symmetric() -> None:
    data = make_polygon_segmentation(1200, seed=1)
    occupancy = (data.targets > 0).float().mean(0)
    for k in (1, 2, 3):
        assert (torch.rot90(occupancy, k) - occupancy).abs().max() < 0.08
    assert occupancy[0].max() == 0 or occupancy[6:8, 6:8].min() > occupancy[0].max()


def test_polygon_seeded_and_checked() -> None:
    a = make_polygon_segmentation(10, seed=2)
    assert torch.equal(a.targets, make_polygon_segmentation(10, seed=2).targets)
    assert not torch.equal(a.targets, make_polygon_segmentation(10, seed=3).targets)
    with pytest.raises(ValueError, match="radius_range must satisfy"):
        make_polygon_segmentation(3, radius_range=(2.0, 9.0))
