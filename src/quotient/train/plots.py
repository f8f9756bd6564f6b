"""Learning-curve figures from a run's history (matplotlib, imported lazily, no pyplot)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .io import save_png

__all__ = ["plot_learning_curve"]


def plot_learning_curve(
    history: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    train_keys: Sequence[str] = ("loss",),
    epoch_keys: Sequence[str] = (),
    title: str = "",
) -> Path:
    """Plot train-record values (left axis, log scale) and epoch-record values (right axis)
    against the step, and save a PNG atomically.

    Uses matplotlib's object API with the Agg canvas, so no global backend is changed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    train = [r for r in history if r.get("kind") == "train"]
    for key in train_keys:
        points = [(r["step"], r[key]) for r in train if isinstance(r.get(key), (int, float))]
        if points:
            ax.plot(*zip(*points, strict=True), label=f"train {key}")
    if train and all(r.get(k, 1) > 0 for r in train for k in train_keys if k in r):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(", ".join(train_keys))
    handles, labels = ax.get_legend_handles_labels()
    epochs = [r for r in history if r.get("kind") == "epoch"]
    if epoch_keys and epochs:
        right = ax.twinx()
        for i, key in enumerate(epoch_keys):
            points = [(r["step"], r[key]) for r in epochs if isinstance(r.get(key), (int, float))]
            if points:
                right.plot(*zip(*points, strict=True), marker="o", color=f"C{i + 1}",
                           label=key)
        right.set_ylabel(", ".join(epoch_keys))
        more_h, more_l = right.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    if handles:
        ax.legend(handles, labels, loc="center right")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_png(fig, path, tight_bbox=False)
