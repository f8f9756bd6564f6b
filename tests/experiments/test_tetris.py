"""tetris end to end on a tiny configuration, and the symmetry of the trained pipeline."""

import dataclasses

import pytest

from quotient.experiments import get
from quotient.experiments.tetris import TetrisConfig
from quotient.train import RunDir, TrainConfig


def _tiny(**kw) -> TetrisConfig:
    train = TrainConfig(epochs=50, batch_size=64, lr=3e-3, optimizer="adam", max_steps=30,
                        time_limit_minutes=2.0, checkpoint_every=15, log_every=5,
                        progress=False, device="cpu")
    cfg = TetrisConfig(train=train, n_train=640, n_test=400, code_hidden=32, decoder_hidden=32,
                       hidden=16, eval_samples=64, probe_samples=400, check_samples=200)
    return dataclasses.replace(cfg, **kw)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = RunDir(tmp_path_factory.mktemp("tetris"))
    cfg = _tiny()
    metrics = get("tetris").run(cfg, run_dir, False).metrics
    run_dir.write_config({"config": dataclasses.asdict(cfg)})
    return run_dir, metrics


def test_metrics_symmetry_and_plots(tiny_run):
    run_dir, m = tiny_run
    for key in ("rec_mse", "knn_acc", "linear_acc", "inv_err_exact", "inv_err_exact_f64",
                "pose_err_exact_rotation_framed", "pose_err_exact_rotation_framed_f64",
                "pose_err_exact_translation", "pose_err_exact_translation_f64", "perm_recovery",
                "chiral_knn_acc", "train_seconds", "rec_mse_line"):
        assert key in m, key
    assert 0 < m["rec_mse"] < 1.0
    # exact by construction, whatever the training did
    assert m["inv_err_exact_f64"] < 1e-10
    assert m["pose_err_exact_rotation_framed_f64"] < 1e-10
    assert m["pose_err_exact_translation_f64"] < 1e-10
    assert m["pose_err_exact_order_f64"] == 0.0 and m["perm_recovery"] == 1.0
    assert m["inv_err_exact"] < 1e-4 and m["pose_err_exact_translation"] < 1e-5
    assert run_dir.plot_path("embedding").is_file()
    assert run_dir.plot_path("learning_curve").is_file()


def test_evaluate_reproduces_the_run(tiny_run):
    run_dir, m = tiny_run
    again = get("tetris").evaluate(run_dir)
    assert again["rec_mse"] == pytest.approx(m["rec_mse"], rel=1e-6)
    assert again["knn_acc"] == pytest.approx(m["knn_acc"])


def test_e3_variant_identifies_mirror_images(tmp_path):
    cfg = _tiny(group="E3", train=dataclasses.replace(_tiny().train, max_steps=2))
    m = get("tetris").run(cfg, RunDir(tmp_path), False).metrics
    # under E(3) the two chiral pieces are the same shape: their codes cannot be told apart
    assert m["chiral_knn_acc"] < 0.8
    assert m["inv_err_exact_f64"] < 1e-10
