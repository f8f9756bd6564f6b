"""Figures of the graphs experiment: the training losses and held-out accuracy, inputs next to
reconstructions, and a 2-d view of z.

matplotlib's object API only (no pyplot state, no GUI backend); files are written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..metrics.graphs import canonical_graphs, graph_outputs
from ..metrics.representation import embed_2d
from ..models.graph_giae import edge_probabilities
from ..plots import plot_learning_curves
from ..train.io import save_png as _save

__all__ = ["plot_code_embedding", "plot_graphs", "plot_reconstructions"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def plot_reconstructions(adjacency: Tensor, mask: Tensor, out: dict[str, Tensor],
                         path: str | os.PathLike[str], *, n: int = 10) -> Path:
    """Columns of graphs; rows: input adjacency (padding grey), reconstructed edge
    probabilities, the decoded canonical adjacency δ(z), and the input put in canonical order
    by the pose. ``out`` as :func:`~quotient.metrics.graphs.graph_outputs` gives it. Graphs are
    picked evenly through the data set (growing atlas index)."""
    total = adjacency.shape[0]
    n = min(n, total)
    idx = torch.linspace(total // (2 * n), total - 1, n).long()
    adj, mask = adjacency[idx].double(), mask[idx]
    order = out["order"][idx]
    pair = (mask[:, :, None] & mask[:, None, :]).double()
    canon_mask = torch.gather(mask, 1, order)
    canon_pair = (canon_mask[:, :, None] & canon_mask[:, None, :]).double()
    rows = [
        ("input A", adj * pair + 0.35 * (1 - pair)),
        ("reconstruction", edge_probabilities(out["reconstruction"][idx].double(), mask) * pair
         + 0.35 * (1 - pair)),
        ("canonical δ(z)", edge_probabilities(out["canonical"][idx].double(), canon_mask)
         * canon_pair + 0.35 * (1 - canon_pair)),
        ("S A Sᵀ", canonical_graphs(adj, order) * canon_pair + 0.35 * (1 - canon_pair)),
    ]
    fig = _figure(1.3 * n, 1.45 * len(rows))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(images[c].numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("held-out relabellings: input, reconstruction P·Â·Pᵀ, canonical Â, S·A·Sᵀ "
                 "(grey = padding)", fontsize=9)
    return _save(fig, path)


def plot_code_embedding(z: Tensor, values: Tensor, path: str | os.PathLike[str], *,
                        title: str = "", seed: int = 0) -> Path:
    """PCA of the codes ``z (N, d)`` coloured by an integer property ``values (N,)`` (e.g. the
    number of edges), with a colour bar."""
    points, keep = embed_2d(z, method="pca", seed=seed)
    vals = np.asarray(values.detach().cpu().numpy())[keep]
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    sc = ax.scatter(points[:, 0], points[:, 1], c=vals, cmap="viridis", s=6, linewidths=0)
    fig.colorbar(sc, ax=ax, label="number of edges")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_graphs(cfg: Any, model: nn.Module, split: Any, metrics: dict[str, Any], result: Any,
                run_dir: Any) -> None:
    """The experiment's own figures (the recipe's ``plots``): ``losses.png``,
    ``test_accuracy.png``, ``reconstructions.png`` and ``embedding.png``."""
    name = split.name or "graphs"
    plot_learning_curves(result.history, run_dir.plot_path("losses"),
                         keys=("rec", "perm_entropy"), title=f"{name}: training loss")
    epochs = [r for r in result.history if r.get("kind") == "epoch"]
    if epochs:
        plot_learning_curves(epochs, run_dir.plot_path("test_accuracy"),
                             keys=("test_edge_acc", "test_graph_acc"), log_y=False,
                             title=f"{name}: held-out relabellings")
    test = split.extras["test"]
    out = graph_outputs(model, test.inputs)
    plot_reconstructions(test.adjacency, test.mask, out, run_dir.plot_path("reconstructions"))
    plot_code_embedding(out["z"], test.n_edges, run_dir.plot_path("embedding"),
                        title="z (PCA), coloured by number of edges")
