"""se2-mnist end to end on a tiny split (well under 30 s): metrics, plots, re-evaluation, the
baselines in the same harness, bad settings."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from quotient import experiments
from quotient.errors import ConfigError
from quotient.experiments.se2_mnist import (
    EXPERIMENT,
    SE2MNISTConfig,
    allowed_shifts,
    build_model,
    load_data,
    rotate_about_position,
)
from quotient.nn.se2_images import torus_centroid, torus_distance
from quotient.train import RunDir

KEYS = ("rec_mse", "knn_acc", "linear_acc", "cluster_acc", "inv_err_se2", "inv_err_se2_max",
        "inv_err_se2_f64", "train_seconds")


def _tiny(**kw):
    cfg = SE2MNISTConfig(n_train=64, n_test=40, embedding="pca", threads=1, widths=(4, 4),
                         decoder_widths=(8, 8, 8), cnn_widths=(8, 8), latent_dim=8,
                         check_samples=16, cluster_samples=40, se2_samples=16,
                         se2_samples_f64=4, **kw)
    train = dataclasses.replace(cfg.train, epochs=1, batch_size=32, max_steps=2,
                                progress=False, checkpoint_every=0)
    return dataclasses.replace(cfg, train=train)


def test_registered():
    assert "se2-mnist" in experiments.names()
    assert experiments.get("se2-mnist").config_cls is SE2MNISTConfig


def test_giae_run_through_the_recipe(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    cfg = _tiny()
    run_dir.write_config({"experiment": "se2-mnist", "kind": "train",
                          "config": json.loads(json.dumps(dataclasses.asdict(cfg)))})
    result = EXPERIMENT.run(cfg, run_dir, False)
    metrics = result.metrics
    assert result.fit.completed and metrics["steps"] == 2
    for key in KEYS + ("trans_err_shift_px", "trans_err_true_px", "pose_err_exact_shift_px"):
        assert key in metrics and math.isfinite(metrics[key]), key
    # exact by construction, even untrained
    assert metrics["inv_err_se2_f64"] <= 1e-10
    assert metrics["inv_err_exact_f64"] <= 1e-10
    assert metrics["trans_err_shift_px_f64"] <= 1e-10
    assert metrics["pose_err_exact_shift_px_f64"] <= 1e-10
    assert metrics["rec_err_exact_f64"] <= 1e-10
    assert metrics["trans_err_true_px"] < 0.5 and metrics["trans_err_true_px_max"] <= 0.5
    for name in ("images", "embedding", "pose", "translation", "learning_curve"):
        assert (run_dir.plots_dir / f"{name}.png").stat().st_size > 1000
    again = EXPERIMENT.evaluate(RunDir.open(run_dir.path))
    assert again["rec_mse"] == pytest.approx(metrics["rec_mse"], rel=1e-5)
    assert again["cluster_acc"] == pytest.approx(metrics["cluster_acc"])


@pytest.mark.parametrize("model", ["rotation", "classical"])
def test_baselines_run_in_the_same_harness_and_are_not_shift_invariant(tmp_path, model):
    metrics = EXPERIMENT.run(dataclasses.replace(_tiny(model=model), plots=False),
                             RunDir(tmp_path / "run"), False).metrics
    for key in KEYS:
        assert key in metrics and math.isfinite(metrics[key]), key
    assert "trans_err_shift_px" not in metrics
    assert metrics["inv_err_se2_f64"] > 1e-3  # no translation handling


def test_the_models_differ_as_configured():
    cfg = _tiny()
    split = load_data(cfg)
    assert split.train.shape == (64, 1, 40, 40) and split.test_labels.shape == (40,)
    giae = build_model(cfg, split)
    assert type(giae.encoder).__name__ == "SE2CropEncoder"
    rotation = build_model(dataclasses.replace(cfg, model="rotation"), split)
    assert type(rotation.encoder).__name__ == "C4Encoder"
    assert rotation.encoder.image_size == 40


def test_augmentation_turns_each_digit_in_place_and_shifts_stay_on_the_canvas():
    split = load_data(_tiny())
    x = split.test[:16]
    turned = rotate_about_position(x, torch.Generator().manual_seed(0))
    t, _ = torus_centroid(x)
    t2, _ = torus_centroid(turned)
    # turned about a pixel within 1.5 px of its centroid (a roll, then rotate_image about the
    # canvas centre), so the centroid moves by at most 3 px — and by far more about the centre
    assert torus_distance(t, t2, 40).max() < 3.0
    from quotient.models.baselines import random_rotation

    swung = random_rotation(x, torch.Generator().manual_seed(0))
    assert torus_distance(t, torus_centroid(swung)[0], 40).mean() > \
        2 * torus_distance(t, t2, 40).mean()
    s = allowed_shifts(x, torch.Generator().manual_seed(1))
    rows = (x.abs().sum((1, 3)) > 0)
    first = rows.float().argmax(1)
    last = 39 - rows.flip(1).float().argmax(1)
    assert ((first + s[:, 0] >= 0) & (last + s[:, 0] <= 39)).all()


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError, match="canvas must be at least 28"):
        SE2MNISTConfig(canvas=20)
    with pytest.raises(ConfigError, match="crop_size must be odd"):
        SE2MNISTConfig(crop_size=28)
    with pytest.raises(ConfigError, match="model must be giae, rotation or classical"):
        SE2MNISTConfig(model="augmented")  # type: ignore[arg-type]
