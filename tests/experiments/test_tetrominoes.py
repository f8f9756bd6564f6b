"""tetrominoes end to end on a tiny configuration: the code is exactly invariant and the
mirror images stay apart."""

import dataclasses

import pytest

from quotient.experiments import get
from quotient.experiments.tetrominoes import TetrominoesConfig
from quotient.train import RunDir, TrainConfig


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    train = TrainConfig(epochs=20, batch_size=64, lr=3e-3, optimizer="adam", max_steps=40,
                        checkpoint_every=20, log_every=10, progress=False, device="cpu")
    cfg = TetrominoesConfig(train=train, n_train=1280, n_test=420, hidden=16, code_hidden=32,
                            decoder_hidden=32, eval_samples=64, probe_samples=1280,
                            check_samples=200)
    return get("tetrominoes").run(cfg, RunDir(tmp_path_factory.mktemp("tm")), False).metrics


def test_code_is_exactly_invariant_and_separates_the_mirror_images(metrics):
    assert metrics["inv_err_exact_f64"] < 1e-10
    assert metrics["pose_err_exact_rotation_f64"] < 1e-10
    assert metrics["inv_err_exact"] < 1e-4
    assert metrics["mirror_knn_acc"] > 0.9  # SE(2): S≠Z and J≠L even after 40 steps
    assert metrics["steps"] == 40 and 0 < metrics["rec_mse"] < 1


def test_registered_with_its_settings():
    exp = get("tetrominoes")
    assert exp.config_cls is TetrominoesConfig and exp.recipe is not None
    assert dataclasses.asdict(TetrominoesConfig())["latent_dim"] == 2
