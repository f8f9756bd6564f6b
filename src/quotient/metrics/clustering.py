"""Clustering accuracy of codes: do the classes fall into separate clusters without labels?

    clustering_accuracy(z, y) = max over one-to-one maps π: clusters → classes of
                                (1/N) Σ_i [π(c_i) = y_i],

with ``c`` the clusters of Ward agglomerative clustering of the standardised codes into as many
clusters as there are classes, and the best map found by the Hungarian algorithm on the
cluster × class contingency table (:func:`scipy.optimize.linear_sum_assignment`). It is 1 for
codes whose classes form separate compact groups, whatever the cluster names, and about the
largest class share for codes without class structure.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

__all__ = ["clustering_accuracy", "matched_accuracy"]


def _labels(y: Tensor | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what} must be integers of shape (N,), got {a.dtype} {a.shape}")
    return a


def matched_accuracy(clusters: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> float:
    """The share of samples whose cluster maps to their label under the best one-to-one map
    of clusters to labels (Hungarian algorithm on the contingency table; clusters beyond the
    number of labels, or labels beyond the number of clusters, stay unmatched and count as
    errors).

    Args:
        clusters: integer cluster ids ``(N,)`` (any values).
        labels: integer class labels ``(N,)`` (any values).
    """
    from scipy.optimize import linear_sum_assignment

    c, y = _labels(clusters, "clusters"), _labels(labels, "labels")
    if c.shape != y.shape or c.size == 0:
        raise ValueError(f"clusters and labels must be non-empty and of one length, got "
                         f"{c.shape[0]} and {y.shape[0]}")
    _, ci = np.unique(c, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    table = np.zeros((ci.max() + 1, yi.max() + 1), dtype=np.int64)
    np.add.at(table, (ci, yi), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / c.size)


def clustering_accuracy(z: Tensor | np.ndarray, labels: Tensor | np.ndarray,
                        n_clusters: int | None = None, *, standardize: bool = True) -> float:
    """Accuracy of Ward agglomerative clustering of codes ``z (N, d)`` against ``labels (N,)``
    after the best one-to-one matching of clusters to classes (module docstring).

    Args:
        z: codes ``(N, d)``, finite.
        labels: integer classes ``(N,)``.
        n_clusters: clusters to form (default: the number of distinct labels).
        standardize: scale every code dimension to zero mean and unit variance first (as the
            kNN and linear probes do), so that no dimension dominates by its scale alone.

    Returns:
        A float in ``(0, 1]``.
    """
    from sklearn.cluster import AgglomerativeClustering

    a = np.asarray(z.detach().cpu().double() if isinstance(z, Tensor) else z, dtype=np.float64)
    y = _labels(labels, "labels")
    if a.ndim != 2 or a.shape[0] != y.shape[0]:
        raise ValueError(f"z must be (N, d) with N = {y.shape[0]} labels, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("z has NaN or infinite values")
    k = int(np.unique(y).size) if n_clusters is None else int(n_clusters)
    if not 1 <= k <= a.shape[0]:
        raise ValueError(f"n_clusters must be in [1, {a.shape[0]}], got {k}")
    if standardize:
        a = (a - a.mean(0)) / np.where(a.std(0) > 0, a.std(0), 1.0)
    clusters = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(a)
    return matched_accuracy(clusters, y)
