"""The commands on a finished tiny run: outputs, evaluate, report, resume, overwrite, help."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from _cli_helpers import TINY, cli_env, main_single_thread, tiny_run_dir

from quotient import experiments
from quotient.cli import main
from quotient.errors import ConfigError


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Path of a finished, uninterrupted tiny digits-c4 run."""
    return tiny_run_dir(tmp_path_factory)


@pytest.mark.parametrize("command", [[], ["list"], ["train"], ["dynamics"], ["evaluate"],
                                     ["report"]])
def test_help(command, capsys):
    assert main([*command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: quotient {' '.join(command)}".rstrip())


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"digits-c4 +C4-invariant CNN", out)
    assert "dynamics experiments (quotient dynamics NAME):" in out
    groups = pytest.importorskip("quotient.groups")
    if hasattr(groups, "GROUPS"):
        assert "groups (quotient.groups):" in out


def test_show_config(tmp_path, capsys):
    assert main(["train", "digits-c4", "--show-config", "--set", "train.epochs=4"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["train"]["epochs"] == 4 and shown["channels"] == 24
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"channels": 3, "train": {"lr": 0.5}}))
    assert main(["train", "digits-c4", "--show-config", "--config", str(path), "--set",
                 "channels=5"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["channels"], shown["train"]["lr"], shown["train"]["epochs"]) == (5, 0.5, 40)


def test_run_outputs(tiny_run):
    saved = json.loads((tiny_run / "config.json").read_text())
    assert saved["experiment"] == "digits-c4" and saved["kind"] == "train"
    assert saved["config"]["train"]["epochs"] == 3 and saved["config"]["channels"] == 2
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert {"test_acc", "train_seconds", "inv_err_rot90"} <= set(metrics)
    assert 0 <= metrics["test_acc"] <= 1 and metrics["steps"] == 18
    assert metrics["inv_err_rot90"] < 1e-5, "averaging over rot90 copies is exactly invariant"
    records = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 19))
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [0, 1, 2]
    assert (tiny_run / "metrics.csv").read_text().startswith("kind,step,epoch,loss")
    assert (tiny_run / "plots" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tiny_run / "checkpoints").iterdir()) == ["ckpt-16.pt",
                                                                           "ckpt-18.pt"]
    page = (tiny_run / "report.html").read_text()
    assert "data:image/png;base64," in page and 'src="plots/' not in page
    assert "test_acc" in (tiny_run / "report.md").read_text()


def test_evaluate_and_report(tiny_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    (run / "report.html").unlink()
    (run / "report.md").unlink()
    assert main(["report", str(run)]) == 0
    assert "data:image/png;base64," in (run / "report.html").read_text()
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    shown = json.loads(capsys.readouterr().out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert shown["test_acc"] == metrics["test_acc"] and shown["steps"] == 18
    assert shown["inv_err_rot90"] < 1e-5
    assert json.loads((run / "evaluation.json").read_text()) == shown


def test_resume_finished_run_and_overwrite(tiny_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    before = json.loads((run / "metrics.json").read_text())
    assert main_single_thread(["train", "digits-c4", "--out", str(run), "--resume"]) == 0
    after = json.loads((run / "metrics.json").read_text())
    assert after["test_acc"] == before["test_acc"] and after["steps"] == 18
    (run / "marker.txt").write_text("from the old run")
    assert main_single_thread(["train", "digits-c4", "--out", str(run), "--overwrite", "--set",
                               *TINY, "train.epochs=1"]) == 0
    assert not (run / "marker.txt").exists()
    assert json.loads((run / "metrics.json").read_text())["steps"] == 6


def test_registry():
    assert "digits-c4" in experiments.names()
    assert "digits-c4" not in experiments.names("dynamics")
    exp = experiments.get("digits-c4")
    assert exp.name == "digits-c4" and exp.evaluate is not None
    with pytest.raises(ConfigError, match="unknown experiment 'x'; known experiments: .*digits-c4"):
        experiments.get("x")


@pytest.mark.processes
def test_import_stays_light():
    code = ("import sys, quotient, quotient.cli, quotient.experiments, quotient.errors; "
            "print(sorted(m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
