"""The run report explains itself: every metric has a meaning and a unit, every plot a caption.

The descriptions live in one place (:mod:`quotient.metrics.descriptions`); the report and the
documentation site read them.
"""

import base64
import json
import re

import pytest

from quotient.metrics.descriptions import (
    PLOT_CAPTIONS,
    describe_metric,
    metric_table,
    plot_caption,
    reference_figure,
    undescribed,
)

# Metric names the experiments write (their metrics.json), gathered from every experiment: the
# common GIAE figures, each experiment's own, the baselines', the dynamics summaries.
KNOWN = """
rec_mse knn_acc linear_acc inv_err_exact inv_err_exact_p50 inv_err_exact_p99 inv_err_exact_p999
pose_err_exact_angle_deg pose_err_exact_angle_deg_mean rec_err_exact canon_err_exact
canon_same_exact inv_err_exact_f64 pose_err_exact_angle_deg_f64 rec_err_exact_f64
canon_err_exact_f64 canon_same_exact_f64 inv_err_any inv_err_any_p50 inv_err_any_p99
inv_err_any_p999 pose_err_any_angle_deg rec_err_any canon_err_any train_seconds steps
ms_per_step eval_seconds n_params n_train n_test stop_reason
pose_err_exact_order pose_err_exact_order_f64 pose_err_exact_order_mean pose_err_exact_rotation
pose_err_exact_rotation_f64 pose_err_exact_rotation_mean pose_err_exact_translation
pose_err_exact_translation_f64 pose_err_exact_translation_mean rmsd rmsd_median type_acc
transfer_seconds transfer_seconds_per_run transfer_steps transfer_seeds transfer_config
transfer_mae_5pct_pretrained_mean transfer_mae_5pct_scratch_std
transfer_mae_25pct_probe_random_train_mean transfer_n_labels_25pct
element_acc set_acc rec_nll perm_recovery baseline_element_acc baseline_set_acc baseline_steps
baseline_train_seconds chiral_gap chiral_knn_acc pose_err_exact_rotation_framed
pose_err_exact_rotation_framed_f64 edge_acc graph_acc rec_bce train_graph_acc
canonical_agreement train_classes test_classes inv_err_exact_rigid inv_err_exact_rigid_mean
rec_err_exact_rigid baseline_graph_acc baseline_inv_err baseline_rec_bce baseline_knn_acc
cluster_acc inv_err_se2 inv_err_se2_f64 inv_err_se2_max trans_err_shift_px
trans_err_shift_px_f64 mirror_knn_acc test_acc test_loss test_mae train_mae test_rec
commutator dim_L dim_E seconds NOM/distance_final_median AUG/distance_final_max
EQUI/relative_distance_final_median AUG/drift_final_median NOM/loss_final_median
cross/exact/distance_final_min cross/exact/distance_final_median
cross/orbit-complete/distance_max_over_steps skew/SGD_lr1/drift_final_median skew/exact/runs
cross/commutator cross/dim_L cross/dim_E hessian/E_min hessian/E_max hessian/perp_min
hessian/perp_min_without_penalties hessian/gradient_E hessian/gradient_perp hessian/dim_perp
hessian/penalty_shift hessian/E_residual hessian/seconds equi_cross/test_accuracy
equi_cross/invariance_error equi_cross/risk equi_cross/gradient_E equi_cross/seconds
equi_cross/dynamics_accuracy equi_cross/pretrained_test_accuracy gradient_tol sgd_lr1 sgd_lr2
""".split()


def test_every_known_metric_is_described():
    assert undescribed(KNOWN) == []
    for name in KNOWN:
        info = describe_metric(name)
        assert info.name == name and info.meaning and info.unit


def test_patterns_compose():
    assert describe_metric("transfer_mae_25pct_scratch").unit == "eV"
    assert "25 %" in describe_metric("transfer_mae_25pct_scratch").meaning
    assert "float64" in describe_metric("inv_err_exact_f64").meaning
    assert "99th percentile" in describe_metric("inv_err_any_p99").meaning
    assert describe_metric("baseline_knn_acc").better == "higher"
    assert describe_metric("nothing_like_this") is None
    assert reference_figure("rotated-mnist", "rec_mse").startswith("0.0162")
    assert reference_figure("c4-cnn", "cross/exact/distance_final_max") is not None
    assert reference_figure("rotated-mnist", "nothing") is None


def test_plot_captions_and_table():
    assert all(plot_caption(stem) for stem in PLOT_CAPTIONS)
    assert plot_caption("cross_distance_over_steps").startswith("cross:")
    assert plot_caption("unknown_figure") is None
    shown = {row[0] for row in metric_table()}
    assert "transfer_mae_{pct}pct_{init}[_{stat}]" in shown and "rec_mse" in shown


@pytest.mark.slow
def test_demo_like_run_report_explains_every_metric_and_plot(tmp_path):
    """A tiny rotated-mnist run with plots on: metrics.json and plots/ fully explained."""
    from quotient.cli import main

    out = tmp_path / "demo"
    assert main(["train", "rotated-mnist", "--out", str(out), "--set", "train.max_steps=3",
                 "train.batch_size=16", "n_train=64", "n_test=32", "check_samples=16",
                 "embedding=pca", "threads=1", "train.progress=false", "plots=true"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert undescribed(metrics) == []
    page = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for name in metrics:
        info = describe_metric(name)
        assert f"<td>{name}</td>" in page and info.unit in page
    pngs = sorted((out / "plots").glob("*.png"))
    assert {p.stem for p in pngs} >= {"learning_curve", "embedding", "images", "pose"}
    figures = re.findall(r'<figure><img alt="([^"]+)" src="data:image/png;base64,([^"]+)">'
                         r"<figcaption><b>([^<]+)</b>: ([^<]+)</figcaption></figure>", page)
    assert len(figures) == len(pngs)
    for png, (alt, data, stem, caption) in zip(pngs, figures, strict=True):
        assert alt == stem == png.stem
        assert base64.b64decode(data) == png.read_bytes()
        assert plot_caption(png.stem) is not None and caption.startswith(
            plot_caption(png.stem)[:40])
        assert f"](plots/{png.name})" in md
    assert "no description yet" not in page
