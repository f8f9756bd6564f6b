"""The dynamics experiments run end to end through the command line (tiny settings)."""

from __future__ import annotations

import json

import pytest

from quotient.cli import main
from quotient.dynamics import NonStationaryWarning
from quotient.experiments import get, names


def test_dynamics_experiments_are_registered():
    assert {"c4-cnn", "mlp-graphs", "mlp-translations", "mlp-shapes"} <= set(names("dynamics"))
    for name in ("c4-cnn", "mlp-graphs", "mlp-translations", "mlp-shapes"):
        assert get(name, "dynamics").kind == "dynamics"


def test_c4_cnn_tiny_run(tmp_path):
    out = tmp_path / "c4"
    # one EQUI epoch does not reach a stationary point, and the Hessian blocks say so (issue 13
    # item 5 rebuilds this experiment on stationary_point)
    with pytest.warns(NonStationaryWarning, match="not a stationary point"):
        status = main(["dynamics", "c4-cnn", "--out", str(out), "--set", "seeds=1",
                       "n_train=20", "n_test=20", "batch_size=10", "equi_epochs=1",
                       "aug_epochs=1", "channels=[1,2,2,2]", "stability_samples=4",
                       "lanczos_steps=3"])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cross/commutator"] == 0.0
    assert metrics["skew/commutator"] == pytest.approx(0.4330127, abs=1e-6)
    assert metrics["cross_AUG/distance_final_max"] <= 1e-12
    assert metrics["skew_AUG/distance_final_median"] > 1e-8
    assert metrics["cross/equi_invariance_error_median"] <= 1e-10
    for name in ("distance_over_steps", "drift_vs_distance", "equi_loss"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
    assert (out / "metrics.jsonl").read_text().count('"kind": "step"') > 10


@pytest.mark.parametrize(("name", "settings"), [
    ("mlp-graphs", ["n_nodes=5", "draws=3"]),
    ("mlp-shapes", ["size=6"]),
    ("mlp-translations", ["dims=1d"]),
])
def test_mlp_experiments_tiny_runs(tmp_path, name, settings):
    out = tmp_path / name
    status = main(["dynamics", name, "--out", str(out), "--set", "seeds=2", "steps=3",
                   "n_train=8", "hidden_copies=1", *settings])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["EQUI/distance_final_max"] <= 1e-12
    assert metrics["NOM/distance_final_median"] > 1e-6
    assert metrics["commutator"] == 0.0
    assert (out / "plots" / "drift_vs_distance.png").is_file()


def test_bad_setting_is_a_clear_error(tmp_path, capsys):
    status = main(["dynamics", "c4-cnn", "--out", str(tmp_path / "x"), "--set", "image_size=9"])
    assert status != 0
    assert "image_size must be 14 or 28" in capsys.readouterr().err
