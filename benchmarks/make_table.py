"""Regenerate the README's results table from ``benchmarks/results/*.json``.

Each results file may carry ``"readme_rows"``: a list of objects with keys ``task``, ``method``,
``metric``, ``value`` (a number), optional ``reference`` (the paper's or reference code's figure,
a number or text) and ``note``. The table is written between the markers
``<!-- results:begin -->`` and ``<!-- results:end -->`` in README.md; nothing else is touched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _fmt(v: object) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) < 1e-3 or abs(v) >= 1e5:
            return f"{v:.2e}"
        return f"{v:.4g}"
    return str(v)


def build_table(results_dir: Path) -> str:
    """The markdown table for every results file that has ``readme_rows``."""
    lines = ["| task | method | metric | ours | reference | note | source |",
             "|---|---|---|---|---|---|---|"]
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text())
        for row in data.get("readme_rows", []):
            lines.append("| " + " | ".join([
                str(row.get("task", "")), str(row.get("method", "")), str(row.get("metric", "")),
                _fmt(row.get("value")), _fmt(row.get("reference")), str(row.get("note", "")),
                f"`{path.name}`"]) + " |")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the markers (atomically)."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme.name} lacks the markers {BEGIN} … {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    tmp.replace(readme)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    results = ROOT / "benchmarks" / "results"
    table = build_table(results)
    if "--check" in argv:  # fail if the README is stale
        text = (ROOT / "README.md").read_text()
        return 0 if f"{BEGIN}\n{table}\n{END}" in text else 1
    update_readme(ROOT / "README.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
