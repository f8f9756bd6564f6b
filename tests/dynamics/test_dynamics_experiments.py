"""The dynamics experiments run end to end through the command line (tiny settings)."""

from __future__ import annotations

import json

import pytest

from quotient.cli import main
from quotient.dynamics.plots import plot_distance_panels
from quotient.experiments import get, names


def test_dynamics_experiments_are_registered():
    assert {"c4-cnn", "mlp-graphs", "mlp-translations", "mlp-shapes"} <= set(names("dynamics"))
    for name in ("c4-cnn", "mlp-graphs", "mlp-translations", "mlp-shapes"):
        assert get(name, "dynamics").kind == "dynamics"


TINY_C4 = ["channels=[4,4,4]", "n_train=120", "n_test=60", "n_dynamics=40", "aug_batch=10",
           "equi_batch=20", "equi_epochs=[1]", "equi_lrs=[0.01]", "seeds=2", "exact_steps=3",
           "aug_epochs=1", "lanczos_steps=3", "lbfgs_iters=400", "anchor=1.0"]


def test_c4_cnn_tiny_run(tmp_path):
    out = tmp_path / "c4"
    # warnings are errors here: the Hessian blocks would warn at a non-stationary point
    assert main(["dynamics", "c4-cnn", "--out", str(out), "--set", *TINY_C4]) == 0
    m = json.loads((out / "metrics.json").read_text())
    for e in ("cross", "skew"):  # EQUI ended at a certified stationary point
        assert m[f"equi_{e}/stationary"] and m[f"equi_{e}/gradient_E"] <= 1e-6
        assert m[f"equi_{e}/invariance_error"] <= 1e-10
    assert m["hessian/stationary"] and m["hessian/gradient_E"] <= 1e-6
    assert m["hessian/gradient_perp"] <= 1e-12  # compatible L: R^aug's gradient lies in E
    assert m["hessian/E_min"] - m["hessian/E_min_without_penalties"] == pytest.approx(1.001)
    assert m["cross/commutator"] == 0.0 == m["cross-nonorth/commutator"]
    assert m["skew/commutator"] == pytest.approx(0.4330127, abs=1e-6)
    # compatible and orthonormal: exact and orbit-complete AUG never leave E
    for form in ("exact", "orbit-complete"):
        assert m[f"cross/{form}/distance_max_over_steps"] <= 1e-12
        assert m[f"skew/{form}/distance_final_min"] > 1e-4  # incompatible: leaves at once
    assert m["cross-nonorth/orbit-complete/distance_final_min"] > 1e-4
    # at a stationary point exact AUG has only the residual E-gradient to move along, which
    # a non-orthonormal basis turns partly out of E: it leaves, but by little
    assert 0 < m["cross-nonorth/exact/distance_final_max"] < 1e-6
    assert m["cross/exact/runs"] == 1 and m["cross/orbit-complete/runs"] == 2
    # one random rotation per digit leaves E, further with the larger learning rate
    assert m["cross/SGD_lr2/distance_final_median"] > m["cross/SGD_lr1/distance_final_median"]
    assert m["cross/SGD_lr1/distance_final_min"] > 1e-6
    for name in ("aug_distance", "stationary_point"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
    assert (out / "metrics.jsonl").read_text().count('"form": "orbit-complete"') > 10
    assert (out / "phase-equi-cross.pt").is_file() and (out / "phase-stability.pt").is_file()


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
    status = main(["dynamics", "c4-cnn", "--out", str(tmp_path / "x"), "--set",
                   "channels=[4,6,8]"])
    assert status != 0
    assert "channels must be three multiples of 4" in capsys.readouterr().err


def test_distance_panels_figure(tmp_path):
    steps = [0, 1, 2]
    panels = {"exact": (steps, {"cross": [[0.0, 0.0, 0.0]], "skew": [[0.0, 1e-4, 3e-4]]}),
              "minibatch": (steps, {"cross": [[0, 1e-17, 2e-17], [0, 3e-17, 1e-17]],
                                    "skew": [[0, 1e-3, 2e-3], [0, 2e-3, 5e-3]]})}
    path = plot_distance_panels(panels, tmp_path / "p.png", title="t")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 1000
