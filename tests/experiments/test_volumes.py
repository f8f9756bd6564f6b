"""volumes end to end on a tiny configuration through the recipe and the command line: the code
is exactly invariant under the 24 cube rotations, the pose equivariant, the random-rotation
error is reported for both models, and the plots are written."""

from __future__ import annotations

import dataclasses

import pytest

from quotient.experiments import get
from quotient.experiments.volumes import VolumesConfig
from quotient.train import RunDir, TrainConfig

TINY = {"size": 8, "n_train": 96, "n_test": 72, "latent_dim": 4, "widths": (2, 2),
        "cnn_widths": (4, 4), "decoder_widths": (4, 4), "hidden": 8, "eval_samples": 16,
        "check_samples": 24, "embedding": "pca", "threads": 1}


def _train() -> TrainConfig:
    return TrainConfig(epochs=5, batch_size=16, lr=2e-3, optimizer="adam", max_steps=6,
                       checkpoint_every=6, log_every=3, progress=False, device="cpu")


@pytest.fixture(scope="module")
def giae(tmp_path_factory):
    run = RunDir(tmp_path_factory.mktemp("vol") / "giae")
    result = get("volumes").run(VolumesConfig(train=_train(), **TINY), run, False)
    return result.metrics, run


def test_code_invariant_and_pose_equivariant_under_the_cube(giae):
    metrics, _ = giae
    assert metrics["inv_err_exact_f64"] < 1e-10
    assert metrics["pose_err_exact_rotation_f64"] < 1e-8
    assert metrics["inv_err_exact"] < 1e-3  # float32, relative to a barely trained spread
    assert 0 <= metrics["inv_err_any"] < 10  # the error under random SO(3) rotations
    assert "pose_err_any_angle_deg" in metrics and "chiral_knn_acc" in metrics
    assert metrics["steps"] == 6 and 0 < metrics["rec_mse"] < 1


def test_plots_are_written(giae):
    _, run = giae
    names = {p.stem for p in run.plots_dir.glob("*.png")}
    assert {"volumes", "embedding", "learning_curve"} <= names


def test_the_classical_baseline_is_measured_in_the_same_harness(tmp_path):
    cfg = VolumesConfig(train=_train(), model="classical", **TINY)
    metrics = get("volumes").run(cfg, RunDir(tmp_path / "ae"), False).metrics
    assert metrics["inv_err_exact_f64"] > 1e-3  # a plain CNN is not invariant
    assert {"inv_err_any", "knn_acc", "linear_acc", "rec_mse"} <= set(metrics)


def test_the_command_line_trains_it(tmp_path):
    from quotient.cli import main

    sets = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in TINY.items()] + ["train.max_steps=2", "train.batch_size=16",
                                         "plots=false"]
    assert main(["train", "volumes", "--out", str(tmp_path / "cli"), "--set", *sets]) == 0
    assert (tmp_path / "cli" / "metrics.json").is_file()


def test_registered_with_its_settings():
    exp = get("volumes")
    assert exp.config_cls is VolumesConfig and exp.recipe is not None
    cfg = dataclasses.asdict(VolumesConfig())
    assert cfg["size"] == 16 and cfg["train"]["max_steps"] == 1200
    with pytest.raises(ValueError, match="multiple of 4"):
        VolumesConfig(size=10)
    with pytest.raises(ValueError, match="model must be one of"):
        VolumesConfig(model="resnet")
