"""Quality of a learned code: reconstruction error, kNN and linear-probe accuracy, 2-d views.

The probes follow one protocol for every model: fit on the codes of the training split, score
on the held-out split. Codes are standardised with the training split's mean and standard
deviation first (so a few large coordinates cannot dominate the distances), for both probes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["embed_2d", "knn_accuracy", "linear_probe_accuracy", "reconstruction_mse"]


def reconstruction_mse(
    reconstruct: Callable[[Tensor], Tensor], x: Tensor, *, batch_size: int = 500
) -> float:
    """Mean squared error per entry, ``mean (x̂ − x)²`` over samples, channels and positions."""
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size]
            total += float((reconstruct(xb).double() - xb.double()).pow(2).sum())
            count += xb.numel()
    if count == 0:
        raise ValueError("reconstruction_mse: got no samples")
    return total / count


def _arrays(z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a = torch.as_tensor(z_train).detach().double().flatten(1).cpu().numpy()
    b = torch.as_tensor(z_test).detach().double().flatten(1).cpu().numpy()
    ya = torch.as_tensor(y_train).cpu().numpy()
    yb = torch.as_tensor(y_test).cpu().numpy()
    if a.shape[0] != ya.shape[0] or b.shape[0] != yb.shape[0]:
        raise ValueError(f"codes and labels disagree in length: {a.shape[0]} vs {ya.shape[0]} "
                         f"(train), {b.shape[0]} vs {yb.shape[0]} (test)")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"train and test codes differ in size: {a.shape[1]} vs {b.shape[1]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the codes contain NaN or infinite values; the model diverged")
    mean, std = a.mean(0), a.std(0)
    std = np.where(std > 0, std, 1.0)
    return (a - mean) / std, ya, (b - mean) / std, yb


def knn_accuracy(z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor,
                 *, k: int = 5) -> float:
    """Accuracy of a ``k``-nearest-neighbour classifier (Euclidean, majority vote) fitted on
    standardised training codes ``(N, d)`` and scored on the test codes."""
    from sklearn.neighbors import KNeighborsClassifier

    a, ya, b, yb = _arrays(z_train, y_train, z_test, y_test)
    return float(KNeighborsClassifier(n_neighbors=k).fit(a, ya).score(b, yb))


def linear_probe_accuracy(z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor,
                          *, max_iter: int = 1000, c: float = 1.0) -> float:
    """Accuracy of multinomial logistic regression (L2, inverse strength ``c``) on standardised
    codes, fitted on the training split and scored on the test split; NaN when the training
    labels hold a single class (there is nothing to separate, e.g. a file without labels)."""
    from sklearn.linear_model import LogisticRegression

    a, ya, b, yb = _arrays(z_train, y_train, z_test, y_test)
    if len(np.unique(ya)) < 2:
        return float("nan")
    clf = LogisticRegression(C=c, max_iter=max_iter)
    return float(clf.fit(a, ya).score(b, yb))


def embed_2d(z: Tensor, *, method: str = "pca", seed: int = 0,
             max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A 2-d view of codes ``z (N, d)`` for plotting.

    Args:
        method: ``"pca"`` (fast, linear) or ``"tsne"`` (scikit-learn t-SNE, slower, local).
        seed: seeds the subsample and t-SNE.
        max_points: embed a random subsample of at most this many codes.

    Returns:
        ``(points (n, 2), index (n,))`` — the 2-d coordinates and which rows of ``z`` they are.
    """
    a = torch.as_tensor(z).detach().double().flatten(1).cpu().numpy()
    n = a.shape[0]
    index = np.arange(n)
    if max_points is not None and n > max_points:
        index = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        a = a[index]
    if a.shape[0] < 3:
        raise ValueError(f"embed_2d needs at least 3 codes, got {a.shape[0]}")
    a = (a - a.mean(0)) / np.where(a.std(0) > 0, a.std(0), 1.0)
    if a.shape[1] == 1:
        return np.concatenate([a, np.zeros_like(a)], 1), index
    if method == "pca":
        _, _, vt = np.linalg.svd(a, full_matrices=False)
        return a @ vt[:2].T, index
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (a.shape[0] - 1) // 3)))
        pts = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(a)
        return np.asarray(pts), index
    raise ValueError(f"embed_2d: method must be 'pca' or 'tsne', got {method!r}")

