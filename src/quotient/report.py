"""A short report of a run: ``report.md`` and a self-contained ``report.html``.

Built from the run directory alone (``config.json``, ``metrics.json``, ``metrics.jsonl`` and
the PNGs in ``plots/``), so ``quotient report DIR`` can rebuild it at any time. The HTML embeds
the images as base64 data URIs and needs no other file.

Every metric is shown with its meaning, unit and, where one exists, a reference figure (the
paper's or a baseline's), and every plot with a caption saying what to look for; both come
from :mod:`quotient.metrics.descriptions`, which the documentation site reads too.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["build_report"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _last_records(records: list[dict[str, Any]], kind: str, n: int = 10) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == kind][-n:]


def _table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns and k != "kind")
    return columns, [[_fmt(row.get(c, "")) for c in columns] for row in rows]


def _metric_rows(experiment: str, metrics: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """``(name, value, unit, meaning, reference)`` of each metric; a metric nothing describes
    says so rather than being left blank (a test keeps that list empty for known runs)."""
    from .metrics.descriptions import describe_metric, reference_figure

    rows = []
    for key, value in metrics.items():
        info = describe_metric(key)
        meaning = info.meaning if info else "(no description yet)"
        if info and info.better:
            meaning += f" ({info.better} is better)"
        rows.append((key, _fmt(value), info.unit if info else "", meaning,
                     reference_figure(experiment, key) or ""))
    return rows


def _caption(stem: str) -> str:
    from .metrics.descriptions import plot_caption

    return plot_caption(stem) or f"{stem.replace('_', ' ')} (a figure of this experiment)"


def build_report(run_dir: Any) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` (a :class:`RunDir` or a path).

    Returns the two paths.
    """
    from .train.io import atomic_write_text
    from .train.rundir import RunDir

    rd = run_dir if isinstance(run_dir, RunDir) else RunDir.open(os.fspath(run_dir))
    saved = rd.read_config()
    metrics = rd.read_final_metrics()
    records = rd.read_metrics_log()
    plots = sorted(rd.plots_dir.glob("*.png")) if rd.plots_dir.is_dir() else []
    name = saved.get("experiment", "run")
    data = (saved.get("config") or {}).get("data")
    if isinstance(data, str) and data not in ("", "atlas", "sbm"):  # the user's own file
        name = f"{name} on {Path(data).name}"
    status = "finished" if metrics else "not finished (no metrics.json yet)"
    config_text = json.dumps(saved.get("config", saved), indent=2)
    epochs = _last_records(records, "epoch")
    trains = _last_records(records, "train", 5)

    metric_rows = _metric_rows(str(saved.get("experiment", "")), metrics) if metrics else []

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    md = [f"# {name}", "", f"Run directory `{rd.path.name}`: {status}.", ""]
    if metrics:
        md += ["## Final metrics", "", "| metric | value | unit | meaning | reference |",
               "| --- | --- | --- | --- | --- |"]
        md += ["| " + " | ".join(cell(c) for c in row) + " |" for row in metric_rows] + [""]
    for title, rows in (("Last epochs", epochs), ("Last training records", trains)):
        if rows:
            columns, cells = _table(rows)
            md += [f"## {title}", "", "| " + " | ".join(columns) + " |",
                   "| " + " | ".join("---" for _ in columns) + " |"]
            md += ["| " + " | ".join(r) + " |" for r in cells] + [""]
    if plots:
        md += ["## Plots", ""]
        for p in plots:
            md += [f"![{p.stem}](plots/{p.name})", "", f"*{p.stem}*: {_caption(p.stem)}", ""]
    md += ["## Configuration", "", "```json", config_text, "```", ""]

    esc = html.escape
    body = [f"<h1>{esc(name)}</h1>", f"<p>Run directory <code>{esc(rd.path.name)}</code>: "
            f"{esc(status)}.</p>"]
    if metrics:
        body += ["<h2>Final metrics</h2>", '<table class="metrics"><tr><th>metric</th>'
                 "<th>value</th><th>unit</th><th>meaning</th><th>reference</th></tr>"]
        body += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                 for row in metric_rows]
        body += ["</table>"]
    for title, rows in (("Last epochs", epochs), ("Last training records", trains)):
        if rows:
            columns, cells = _table(rows)
            body += [f"<h2>{title}</h2>", "<table><tr>"
                     + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"]
            body += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in cells]
            body += ["</table>"]
    if plots:
        body += ["<h2>Plots</h2>"]
        for p in plots:
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            body += [f'<figure><img alt="{esc(p.stem)}" src="data:image/png;base64,{data}">'
                     f"<figcaption><b>{esc(p.stem)}</b>: {esc(_caption(p.stem))}"
                     "</figcaption></figure>"]
    body += ["<h2>Configuration</h2>", f"<pre>{esc(config_text)}</pre>"]
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;"
             "text-align:right}table.metrics td{text-align:left}table.metrics td:nth-child(2)"
             "{text-align:right;white-space:nowrap}img{max-width:100%}"
             "figcaption{color:#333;margin:.3em 0 1.5em}pre{background:#f6f6f6;padding:1em}")
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{esc(name)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    md_path, html_path = rd.file("report.md"), rd.file("report.html")
    atomic_write_text(md_path, "\n".join(md))
    atomic_write_text(html_path, page)
    return md_path, html_path
