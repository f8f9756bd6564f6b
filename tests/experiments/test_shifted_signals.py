"""shifted-signals end to end on a tiny set: exact shift metrics, plots, re-evaluation."""

import dataclasses
import json
import math

import pytest

from quotient import experiments
from quotient.experiments.shifted_signals import EXPERIMENT, ShiftedSignalsConfig
from quotient.train import RunDir

KEYS = ("rec_mse", "knn_acc", "linear_acc", "inv_err_exact", "inv_err_any",
        "pose_err_exact_cells", "pose_err_any_cells", "train_seconds")
run, evaluate = EXPERIMENT.run, EXPERIMENT.evaluate


def _tiny(**kw):
    cfg = ShiftedSignalsConfig(n_train=128, n_test=64, length=24, widths=(8, 8), hidden=32,
                               threads=1, **kw)
    train = dataclasses.replace(cfg.train, epochs=2, batch_size=32, progress=False,
                                checkpoint_every=0)
    return dataclasses.replace(cfg, train=train)


def test_registered():
    assert experiments.get("shifted-signals").config_cls is ShiftedSignalsConfig


def test_giae_run(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    cfg = _tiny()
    run_dir.write_config({"experiment": "shifted-signals", "kind": "train",
                          "config": json.loads(json.dumps(dataclasses.asdict(cfg)))})
    metrics = run(cfg, run_dir, False).metrics
    for key in KEYS:
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["inv_err_exact"] < 1e-4  # float32 rounding only
    assert metrics["pose_err_exact_cells"] < 1e-3
    assert metrics["inv_err_exact_f64"] < 1e-10 and metrics["pose_err_exact_cells_f64"] < 1e-8
    for name in ("signals", "embedding", "pose", "learning_curve"):
        assert (run_dir.plots_dir / f"{name}.png").is_file()
    again = evaluate(RunDir.open(run_dir.path))
    assert again["rec_mse"] == pytest.approx(metrics["rec_mse"], rel=1e-5)


def test_augmented_baseline_is_not_invariant(tmp_path):
    metrics = run(dataclasses.replace(_tiny(model="augmented"), plots=False),
                  RunDir(tmp_path / "run"), False).metrics
    assert metrics["inv_err_exact"] > 1e-2
    assert not [k for k in metrics if k.startswith("pose_err")]
