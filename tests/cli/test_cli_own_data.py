"""Your own sets, point clouds and graphs train from the command line (a few steps each), keep
their exact symmetry, and are titled by the file; split sizes default to the file's size.

The malformed files are in the bad-input matrix (test_cli_bad_input.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _cli_helpers import main_single_thread

import quotient

_RNG = np.random.default_rng(3)
QUIET = ["train.batch_size=8", "train.max_steps=4", "train.progress=false", "eval_every=1",
         "latent_dim=3", "check_samples=6"]
SMALL = ["hidden=8", "decoder_hidden=16", "plots=false", *QUIET]


def _sizes(n: int, low: int, high: int) -> np.ndarray:
    """A mask ``(n, high)`` of clouds or sets with ``low..high`` real elements."""
    return np.arange(high)[None] < _RNG.integers(low, high + 1, (n, 1))


def _train(tmp_path, experiment: str, arrays: dict, settings: list[str]) -> tuple:
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    out = tmp_path / "run"
    args = ["train", experiment, "--out", str(out), "--set", f"data={path}", *settings]
    assert main_single_thread(args) == 0
    return json.loads((out / "metrics.json").read_text()), out


def test_own_sets_train_with_a_mask(tmp_path):
    mask = _sizes(20, 2, 6)
    metrics, out = _train(tmp_path, "sets", {"elements": _RNG.normal(size=(20, 6, 4)),
                                             "mask": mask, "labels": np.arange(20) % 2}, SMALL)
    assert metrics["n_train"] == 16 and metrics["n_test"] == 4  # 80 % / 20 % of the file
    assert metrics["steps"] == 4 and np.isfinite(metrics["rec_mse"])
    assert "knn_acc" in metrics and "linear_acc" in metrics  # the file's labels
    assert metrics["inv_err_exact_f64"] < 1e-10
    run = quotient.load(out)
    assert run.data().name == "mine.npz"  # reports and plots are titled by the file
    x, real = run.data().test
    assert x.shape == (4, 6, 4) and real.dtype == torch.bool


POINT_FILES = {
    "2-d, mask, E(2)": (lambda: {"points": _RNG.normal(size=(20, 5, 2)), "mask": _sizes(20, 3, 5),
                                 "labels": np.arange(20) % 3}, ["group=E"]),
    "3-d, NaN padding": (lambda: {"points": np.where(_sizes(20, 3, 5)[..., None],
                                                     _RNG.normal(size=(20, 5, 3)), np.nan)}, []),
    "3-d, types": (lambda: {"points": _RNG.normal(size=(20, 5, 3)),
                            "types": np.where(_sizes(20, 3, 5), _RNG.integers(0, 3, (20, 5)),
                                              -1)}, []),
}


@pytest.mark.parametrize("case", list(POINT_FILES))
def test_own_point_clouds_train_and_stay_exactly_invariant(case, tmp_path):
    make, extra = POINT_FILES[case]
    arrays = make()
    metrics, out = _train(tmp_path, "points", arrays, ["code_hidden=16", *SMALL, *extra])
    assert metrics["n_train"] == 16 and metrics["n_test"] == 4 and metrics["steps"] == 4
    assert metrics["inv_err_exact_f64"] < 1e-10  # SE(d)/E(d) × S_n with padding, trained
    assert metrics["inv_err_exact"] < 1e-4
    assert ("type_acc" in metrics) == ("types" in arrays)
    assert ("knn_acc" in metrics) == ("labels" in arrays)
    run = quotient.load(out)  # from the run folder alone, the number of types included
    assert run.report().metrics["inv_err_exact_f64"] == pytest.approx(
        metrics["inv_err_exact_f64"], rel=1e-6, abs=1e-15)


def test_own_graphs_train(tmp_path):
    upper = np.triu(_RNG.random((20, 6, 6)) < 0.5, 1)
    mask = _sizes(20, 3, 6)
    adjacency = (upper | upper.transpose(0, 2, 1)) & mask[:, :, None] & mask[:, None, :]
    settings = ["max_nodes=6", "channels=4", "pose_channels=4", "pose_layers=1", "layers=1",
                "decoder_hidden=16", "baseline_minutes=0", *QUIET]
    metrics, out = _train(tmp_path, "graphs", {"adjacency": adjacency.astype(np.uint8),
                                               "mask": mask, "labels": mask.sum(1) - 3},
                          settings)
    assert metrics["n_train"] == 16 and metrics["n_test"] == 4 and metrics["steps"] == 4
    assert 0.0 <= metrics["edge_acc"] <= 1.0 and "knn_acc" in metrics
    assert "canonical_agreement" not in metrics  # no isomorphism classes in your file
    assert metrics["inv_err_exact_f64"] < 1e-10
    assert (out / "plots" / "reconstructions.png").is_file()


def test_own_images_split_defaults_to_the_file_and_is_titled_by_it(tmp_path):
    from quotient.experiments.rotated_mnist import RotatedMNISTConfig, load_data
    from quotient.train import TrainConfig

    path = tmp_path / "faces.npz"
    np.savez(path, images=_RNG.integers(0, 256, (10, 8, 8)).astype(np.uint8),
             labels=np.arange(10) % 2)
    kw = {"data": str(path), "decoder_widths": (4, 4, 4), "train": TrainConfig(batch_size=4)}
    split = load_data(RotatedMNISTConfig(**kw))
    assert (split.train.shape[0], split.test.shape[0]) == (8, 2)
    assert split.name == "faces.npz (giae)"
    split = load_data(RotatedMNISTConfig(n_test=3, **kw))
    assert (split.train.shape[0], split.test.shape[0]) == (7, 3)


def test_bundled_sample_keeps_its_8000_2000_split(monkeypatch):
    """The defaults on the bundled digits are those of before (no file: 8,000 / 2,000)."""
    from quotient.data import rotated_mnist as data_module
    from quotient.experiments import rotated_mnist

    asked = {}

    def record(**kwargs):
        asked.update(kwargs)
        raise RuntimeError("stop")

    monkeypatch.setattr(data_module, "load_rotated_mnist_sample", record)
    with pytest.raises(RuntimeError, match="stop"):
        rotated_mnist.load_data(rotated_mnist.RotatedMNISTConfig())
    assert asked == {"n_train": 8000, "n_test": 2000, "seed": 0}
