"""Optional TensorBoard logging: the same scalars as metrics.jsonl, the report's figures, and a
one-line error naming the extra to install when the package is missing."""

import json
import sys

import pytest

from quotient.cli import main

TINY = ["train.epochs=2", "train.batch_size=16", "max_train_samples=64", "max_test_samples=32",
        "channels=2", "hidden=8", "train.log_every=1", "train.progress=false",
        "train.device=cpu"]


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_tensorboard_holds_the_scalars_of_metrics_jsonl(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main(["train", "digits-c4", "--out", str(out), "--set", *TINY,
                 "train.tensorboard=true"]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["config"]["train"]["tensorboard"]
    acc = _events(out / "tensorboard")
    tags = set(acc.Tags()["scalars"])
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert train and "train/loss" in tags
    logged = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert logged == pytest.approx({r["step"]: r["loss"] for r in train}, rel=1e-6)
    for record in records:  # every numeric value of every record is there
        for key, value in record.items():
            if key not in ("kind", "step", "epoch") and isinstance(value, float):
                assert f"{record['kind']}/{key}" in tags
    metrics = json.loads((out / "metrics.json").read_text())
    assert {f"final/{k}" for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)} <= tags
    pngs = {p.stem for p in (out / "plots").glob("*.png")}
    assert pngs and {f"plots/{p}" for p in pngs} <= set(acc.Tags()["images"])


def test_flag_works_without_the_config_key(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main(["train", "digits-c4", "--out", str(out), "--tensorboard", "--set", *TINY]) == 0
    assert "train/loss" in _events(out / "tensorboard").Tags()["scalars"]


def test_missing_package_is_one_line_with_exit_status_2(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith(
            ("tensorboard.", "torch.utils.tensorboard"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now fails
    out = tmp_path / "run"
    assert main(["train", "digits-c4", "--out", str(out), "--set", *TINY,
                 "train.tensorboard=true"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install 'quotient[tensorboard]'" in err
    assert not out.exists()  # stopped before the run directory was made
