"""``quotient compare`` puts finished runs side by side and refuses unfinished ones."""

from __future__ import annotations

import json
import shutil

import pytest
from _cli_helpers import tiny_run_dir

from quotient.cli import main


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    first = tiny_run_dir(tmp_path_factory)
    second = tmp_path_factory.mktemp("cmp") / "other"
    shutil.copytree(first, second)
    metrics = json.loads((second / "metrics.json").read_text())
    metrics["test_acc"] = 0.123456
    (second / "metrics.json").write_text(json.dumps(metrics))
    return first, second


def test_compare_prints_both_runs(two_runs, capsys):
    first, second = two_runs
    assert main(["compare", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert first.name in header and second.name in header
    row = next(line for line in out.splitlines() if line.startswith("| test_acc |"))
    assert "0.123456" in row


def test_compare_writes_self_contained_html(two_runs, tmp_path):
    out = tmp_path / "cmp.html"
    assert main(["compare", *map(str, two_runs), "--out", str(out)]) == 0
    page = out.read_text()
    assert "data:image/png;base64," in page and "test_acc" in page


def test_compare_refuses_unfinished_or_missing_runs(two_runs, tmp_path, capsys):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(two_runs[0], unfinished)
    (unfinished / "metrics.json").unlink()
    assert main(["compare", str(two_runs[0]), str(unfinished)]) == 2
    assert "no metrics.json" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("quotient: error:") and err.count("\n") == 1
    assert main(["compare", str(two_runs[0]), "--out", str(tmp_path / "x.txt")]) == 2
