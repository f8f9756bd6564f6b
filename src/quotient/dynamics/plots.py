"""Figures of the dynamics experiments (matplotlib's object API on the Agg canvas, imported
lazily; every function writes one PNG atomically and returns its path).

* :func:`plot_distance_over_steps` — ``‖A − Π_E A‖`` against the step, one colour per strategy
  or space: the median over seeds as a line and the min–max range as a band (log scale;
  exact zeros are drawn at the floor value and said so in the legend).
* :func:`plot_distance_panels` — the same, one panel per training form, on a shared log axis.
* :func:`plot_drift_vs_distance` — ``‖A − A⁰‖`` (x) against ``‖A_{E⊥}‖`` (y), one thin line per
  seed and the per-step median as a thick line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FLOOR = 1e-17
"""Values below this are drawn at this height on log axes."""


def _figure(width: float = 6.4, height: float = 4.2) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from ..train.io import save_png

    fig.tight_layout()
    return save_png(fig, path, tight_bbox=False)


def plot_distance_over_steps(curves: Mapping[str, Sequence[Sequence[float]]],
                             steps: Sequence[int], path: str | os.PathLike[str], *,
                             title: str = "", ylabel: str = "distance from E  ‖A − Π_E A‖",
                             xlabel: str = "step") -> Path:
    """Median and min–max band over seeds per label; ``curves[label]`` is ``(seeds, steps)``."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    x = np.asarray(steps)
    for label, runs in curves.items():
        y = np.asarray(runs, dtype=float)
        if y.size == 0:
            continue
        zero = bool((y < FLOOR).all())
        y = np.maximum(y, FLOOR)
        med = np.median(y, axis=0)
        shown = f"{label} (exactly 0)" if zero else f"{label} (n={y.shape[0]})"
        line = ax.plot(x[:med.size], med, label=shown, lw=1.8)[0]
        ax.fill_between(x[:med.size], y.min(axis=0), y.max(axis=0), color=line.get_color(),
                        alpha=0.18, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "distance from E: median and range over seeds")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_distance_panels(panels: Mapping[str, tuple[Sequence[int], Mapping[str, Sequence[
                             Sequence[float]]]]], path: str | os.PathLike[str], *,
                         title: str = "", xlabel: str = "step",
                         ylabel: str = "‖A − Π_E A‖ (log scale)") -> Path:
    """One panel per entry of ``panels`` (``title -> (steps, curves)``, ``curves[label]`` of
    shape ``(seeds, steps)``), laid out two per row, sharing the log-scaled y axis so that the
    panels compare at a glance; median line and min–max band per label, as in
    :func:`plot_distance_over_steps`."""
    cols = min(2, max(1, len(panels)))
    rows = -(-len(panels) // cols)
    fig = _figure(5.2 * cols, 3.6 * rows + 0.4)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(len(panels))]
    low, high = np.inf, -np.inf
    for ax, (name, (steps, curves)) in zip(axes, panels.items(), strict=True):
        x = np.asarray(steps)
        for label, runs in curves.items():
            y = np.maximum(np.asarray(runs, dtype=float), FLOOR)
            if y.size == 0:
                continue
            med = np.median(y, axis=0)
            n = y.shape[0]
            shown = f"{label} (exactly 0)" if bool((y <= FLOOR).all()) else (
                f"{label} (median of {n}, range)" if n > 1 else f"{label} (deterministic)")
            line = ax.plot(x[:med.size], med, label=shown, lw=1.8)[0]
            ax.fill_between(x[:med.size], y.min(axis=0), y.max(axis=0), color=line.get_color(),
                            alpha=0.2, lw=0)
            low, high = min(low, float(y.min())), max(high, float(y.max()))
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if np.isfinite(low):
        for ax in axes:
            ax.set_ylim(low / 3, high * 3)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_drift_vs_distance(curves: Mapping[str, Sequence[tuple[Sequence[float],
                                                              Sequence[float]]]],
                           path: str | os.PathLike[str], *, title: str = "") -> Path:
    """``curves[label]`` is a list over seeds of ``(drift, distance)`` sequences over steps."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, runs in curves.items():
        if not runs:
            continue
        drift = np.asarray([r[0] for r in runs], dtype=float)
        dist = np.maximum(np.asarray([r[1] for r in runs], dtype=float), FLOOR)
        line = ax.plot(np.median(drift, 0), np.median(dist, 0), lw=2.0,
                       label=f"{label} (median of {drift.shape[0]})")[0]
        for d, e in zip(drift, dist, strict=True):
            ax.plot(d, e, lw=0.6, alpha=0.35, color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("‖A − A⁰‖  (how far training moved the weights)")
    ax.set_ylabel("‖A_E⊥‖ = ‖A − Π_E A‖  (distance from E)")
    ax.set_title(title or "drift against distance from E")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
