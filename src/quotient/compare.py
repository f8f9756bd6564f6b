"""Put several runs side by side: their final metrics as one table, and their learning curves
overlaid in one plot (``quotient compare DIR1 DIR2 … [--out FILE.html]``)."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

__all__ = ["compare_runs", "markdown_table", "write_comparison"]


def compare_runs(dirs: list[str | os.PathLike]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Final metrics of each run: ``(metric names, {run label: {metric: value}})``.

    Raises :class:`~quotient.errors.RunDirError` naming a directory that holds no run.
    """
    from .errors import RunDirError
    from .train.rundir import RunDir

    if len(dirs) < 1:
        raise RunDirError("compare needs at least one run directory")
    metrics: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for d in dirs:
        rd = RunDir.open(os.fspath(d))
        final = rd.read_final_metrics()
        if not final:
            raise RunDirError(f"{d} has no metrics.json yet: finish or resume that run first")
        label = _unique(Path(d).name or str(d), metrics)
        metrics[label] = final
        names.extend(k for k in final if k not in names)
    return names, metrics


def _unique(label: str, taken: dict[str, Any]) -> str:
    out, i = label, 2
    while out in taken:
        out, i = f"{label} ({i})", i + 1
    return out


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else ("—" if v is None else str(v))


def markdown_table(names: list[str], metrics: dict[str, dict[str, Any]]) -> str:
    """Metrics as rows, runs as columns."""
    runs = list(metrics)
    lines = ["| metric | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(_fmt(metrics[r].get(n)) for r in runs) + " |")
    return "\n".join(lines)


def _curves_png(dirs: list[str | os.PathLike], labels: list[str], path: Path) -> bool:
    """Overlay the training loss of every run; False when no run logged a loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .train.rundir import RunDir

    fig, ax = plt.subplots(figsize=(6, 3.5))
    drawn = False
    for d, label in zip(dirs, labels, strict=True):
        recs = [r for r in RunDir.open(os.fspath(d)).read_metrics_log()
                if r.get("kind") == "train" and "loss" in r]
        if recs:
            ax.plot([r["step"] for r in recs], [r["loss"] for r in recs], label=label)
            drawn = True
    if drawn:
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def write_comparison(dirs: list[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write a self-contained HTML page (table + overlaid learning curves) to ``out``."""
    import tempfile

    from .train.io import atomic_write_text

    names, metrics = compare_runs(dirs)
    out = Path(out)
    if out.suffix != ".html":
        from .errors import ConfigError

        raise ConfigError(f"--out must name an .html file, got {out.name}")
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(n)}</td>" + "".join(f"<td>{esc(_fmt(metrics[r].get(n)))}</td>"
                                           for r in metrics) + "</tr>" for n in names)
    head = "".join(f"<th>{esc(r)}</th>" for r in metrics)
    body = [f"<h1>Comparison of {len(metrics)} runs</h1>",
            f"<table><tr><th>metric</th>{head}</tr>{rows}</table>"]
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "curves.png"
        if _curves_png(dirs, list(metrics), png):
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            body.append(f'<h2>Training loss</h2><img src="data:image/png;base64,{data}">')
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:"
             "collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}")
    atomic_write_text(out, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
                      f"comparison</title><style>{style}</style></head><body>"
                      + "\n".join(body) + "</body></html>\n")
    return out
