"""The README's results table is the one generated from ``benchmarks/results/*.json``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_table():
    spec = importlib.util.spec_from_file_location("make_table", ROOT / "benchmarks" /
                                                  "make_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_matches_the_benchmark_results():
    make_table = _make_table()
    assert make_table.main(["--check"]) == 0, (
        "README.md's results table is stale; run: python benchmarks/make_table.py")


def test_every_row_has_a_number_and_names_its_source(tmp_path):
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        for row in json.loads(path.read_text()).get("readme_rows", []):
            assert isinstance(row["value"], (int, float)), (path.name, row)
            assert row["task"] and row["method"] and row["metric"], (path.name, row)
    # a stale table is detected
    make_table = _make_table()
    (tmp_path / "r.json").write_text(json.dumps({"readme_rows": [
        {"task": "t", "method": "m", "metric": "x", "value": 1.5}]}))
    table = make_table.build_table(tmp_path)
    assert "| t | m | x | 1.5 | — |  | `r.json` |" in table
