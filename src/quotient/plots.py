"""Shared plotting helpers (PNG files), usable by every experiment.

matplotlib is imported lazily inside each function and only its object-oriented API is used
(``matplotlib.figure.Figure``, no ``pyplot`` state, no GUI backend), so plotting works headless
and never interferes with a user's interactive session. Every function writes one PNG and
returns its path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

__all__ = [
    "plot_angle_scatter",
    "plot_embedding",
    "plot_image_grid",
    "plot_learning_curves",
    "plot_signals",
]

PathLike = str | os.PathLike


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: PathLike) -> Path:
    from .train.io import save_png

    return save_png(fig, path)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().double().cpu().numpy()
    return np.asarray(x, dtype=float)


def plot_image_grid(rows: Mapping[str, Tensor], path: PathLike, *, title: str | None = None,
                    n: int = 10, cmap: str = "gray") -> Path:
    """One row per entry of ``rows`` (label -> images ``(N, C, H, W)``), first ``n`` columns.

    Single-channel images are drawn with ``cmap`` on ``[0, 1]``; three-channel ones as RGB.
    """
    if not rows:
        raise ValueError("plot_image_grid needs at least one row")
    n = min(n, *(int(v.shape[0]) for v in rows.values()))
    fig = _figure(1.1 * n + 1.2, 1.15 * len(rows) + (0.4 if title else 0))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for i, (label, imgs) in enumerate(rows.items()):
        arr = _np(imgs[:n])
        for j in range(n):
            ax = axes[i][j]
            img = arr[j]
            if img.shape[0] == 1:
                ax.imshow(img[0], cmap=cmap, vmin=0.0, vmax=1.0)
            else:
                ax.imshow(np.clip(np.moveaxis(img, 0, -1), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_signals(rows: Mapping[str, Tensor], path: PathLike, *, title: str | None = None,
                 n: int = 6) -> Path:
    """Overlaid 1-d signals ``(N, 1, L)``: one panel per sample, one line per entry of ``rows``."""
    if not rows:
        raise ValueError("plot_signals needs at least one row")
    n = min(n, *(int(v.shape[0]) for v in rows.values()))
    cols = min(n, 3)
    fig = _figure(4.0 * cols, 2.2 * math.ceil(n / cols))
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False)
    for j in range(n):
        ax = axes[j // cols][j % cols]
        for label, sig in rows.items():
            ax.plot(_np(sig[j]).reshape(-1), label=label, lw=1.2)
        ax.set_title(f"sample {j}", fontsize=9)
    for j in range(n, axes.size):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_embedding(points: Any, labels: Any, path: PathLike, *,
                   title: str | None = None) -> Path:
    """A 2-d embedding ``(N, 2)`` as a scatter plot coloured by integer class ``labels (N,)``."""
    pts, lab = _np(points), np.asarray(_np(labels)).astype(int)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] != lab.shape[0]:
        raise ValueError(f"plot_embedding needs points (N, 2) and labels (N,), got "
                         f"{pts.shape} and {lab.shape}")
    fig = _figure(6.0, 5.2)
    ax = fig.subplots()
    classes = np.unique(lab)
    cmap = _cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, c in enumerate(classes):
        sel = lab == c
        ax.scatter(pts[sel, 0], pts[sel, 1], s=4, color=cmap(i % cmap.N), label=str(c),
                   alpha=0.7, linewidths=0)
    ax.legend(markerscale=3, fontsize=8, loc="best", ncol=2)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _cmap(name: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name]


def plot_angle_scatter(true: Any, predicted: Any, path: PathLike, *, labels: Any = None,
                       period: float = 360.0, unit: str = "degrees",
                       title: str | None = None) -> Path:
    """Predicted versus true pose on a circle (angles or cyclic shifts, both in ``unit``).

    An equivariant pose head puts every class on a line of slope 1 (wrapped at ``period``),
    offset by that class's canonical orientation.
    """
    t, p = np.mod(_np(true), period), np.mod(_np(predicted), period)
    fig = _figure(5.4, 5.0)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(t, p, s=4, alpha=0.6, linewidths=0)
    else:
        lab = np.asarray(_np(labels)).astype(int)
        cmap = _cmap("tab10")
        for i, c in enumerate(np.unique(lab)):
            sel = lab == c
            ax.scatter(t[sel], p[sel], s=4, color=cmap(i % 10), label=str(c), alpha=0.6,
                       linewidths=0)
        ax.legend(markerscale=3, fontsize=8, ncol=2)
    ax.set_xlim(0, period)
    ax.set_ylim(0, period)
    ax.set_xlabel(f"true ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_learning_curves(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
                         path: PathLike, *, keys: Sequence[str] = ("loss",), x_key: str = "step",
                         log_y: bool = True, title: str | None = None) -> Path:
    """Logged values against steps.

    ``history`` is either a list of records (``{"step": …, "loss": …}``, as in
    ``metrics.jsonl``) or a mapping ``name -> list of records`` to overlay several runs.
    """
    runs = dict(history) if isinstance(history, Mapping) else {"": history}
    fig = _figure(6.4, 4.0)
    ax = fig.subplots()
    drawn = 0
    for run, records in runs.items():
        for key in keys:
            pts = [(r[x_key], r[key]) for r in records
                   if key in r and x_key in r and r[key] is not None
                   and math.isfinite(float(r[key]))]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            label = " ".join(s for s in (run, key) if s)
            ax.plot(xs, ys, label=label, lw=1.3)
            drawn += 1
    if drawn == 0:
        raise ValueError(f"plot_learning_curves: no records with {x_key!r} and any of {keys}")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x_key)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(fig, path)

