"""digit-sets end to end on a tiny configuration: metrics, plots, evaluation from the run."""

import dataclasses

import pytest

from quotient.experiments import get
from quotient.experiments.digit_sets import DigitSetsConfig, accuracies, build_model, load_data
from quotient.metrics import symmetry_report
from quotient.train import RunDir, TrainConfig


def _tiny(**kw) -> DigitSetsConfig:
    train = TrainConfig(epochs=50, batch_size=64, lr=3e-3, optimizer="adam", max_steps=40,
                        time_limit_minutes=2.0, checkpoint_every=20, log_every=10,
                        progress=False, device="cpu")
    cfg = DigitSetsConfig(train=train, set_size=6, n_classes=4, n_train=640, n_test=128,
                          latent_dim=6, hidden=16, decoder_hidden=32, eval_samples=64,
                          baseline_minutes=0.01)
    return dataclasses.replace(cfg, **kw)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("digit_sets")
    cfg = _tiny()
    run_dir = RunDir(path)
    metrics = get("digit-sets").run(cfg, run_dir, False).metrics
    return cfg, run_dir, metrics


def test_metrics_and_plots(tiny_run):
    _, run_dir, m = tiny_run
    for key in ("element_acc", "set_acc", "inv_err_exact", "perm_recovery", "train_seconds",
                "baseline_element_acc", "baseline_set_acc", "rec_mse"):
        assert key in m
    assert 0.25 < m["element_acc"] <= 1.0  # better than chance after 40 steps
    assert m["inv_err_exact"] < 1e-5
    assert m["perm_recovery"] == 1.0
    assert m["steps"] == 40 and m["stop_reason"] == "max_steps"
    assert m["inv_err_exact_f64"] < 1e-12  # (x̂ moves exactly only where no digits tie)
    assert run_dir.plot_path("learning_curve").is_file()
    assert run_dir.plot_path("test_accuracy").is_file()


def test_evaluate_reproduces_the_run(tiny_run):
    _, run_dir, m = tiny_run
    run_dir.write_config({"config": dataclasses.asdict(tiny_run[0])})
    again = get("digit-sets").evaluate(run_dir)
    assert again["element_acc"] == pytest.approx(m["element_acc"])
    assert again["set_acc"] == pytest.approx(m["set_acc"])


def test_untrained_model_is_exactly_invariant_in_float64():
    cfg = _tiny(dtype="float64")
    model = build_model(cfg)
    x = load_data(cfg).test[:50]
    report = symmetry_report(model, x)
    assert report.metrics["inv_err_exact"] < 1e-12
    assert report.metrics["canon_same_exact"] == 1.0  # shuffled sets: the same canonical one
    assert 0 <= accuracies(model, x)["element_acc"] <= 1
