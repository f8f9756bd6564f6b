"""clustering_accuracy: Ward clusters of codes matched one-to-one to classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quotient.metrics.clustering import clustering_accuracy, matched_accuracy


def _blobs(n_per: int = 30, k: int = 10, spread: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 8)) * 5
    y = np.repeat(np.arange(k), n_per)
    z = centres[y] + spread * rng.normal(size=(y.size, 8))
    return torch.from_numpy(z), torch.from_numpy(y)


def test_perfect_clusters_score_one_whatever_the_names():
    z, y = _blobs()
    assert clustering_accuracy(z, y) == 1.0
    perm = torch.tensor([3, 7, 0, 9, 1, 5, 2, 8, 6, 4])
    assert clustering_accuracy(z, perm[y]) == 1.0  # a permuted labelling
    assert clustering_accuracy(z.numpy(), (y + 100).numpy()) == 1.0  # any label values
    assert matched_accuracy(perm[y], y) == 1.0


def test_codes_without_class_structure_score_low():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(500, 8))
    y = rng.integers(0, 10, size=500)
    assert clustering_accuracy(z, y) < 0.25


def test_matching_counts_the_best_one_to_one_map():
    # clusters 0 and 1 both hold mostly class 0: only one of them can be matched to it
    clusters = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    labels = np.array([0, 0, 0, 0, 0, 1, 2, 2])
    assert matched_accuracy(clusters, labels) == pytest.approx(6 / 8)
    assert matched_accuracy(np.zeros(4, dtype=int), np.array([0, 1, 2, 3])) == 0.25


def test_bad_input_is_refused_with_a_clear_message():
    z, y = _blobs(n_per=3, k=2)
    with pytest.raises(ValueError, match="integers of shape"):
        clustering_accuracy(z, y.double())
    with pytest.raises(ValueError, match=r"z must be \(N, d\)"):
        clustering_accuracy(z[:-1], y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        clustering_accuracy(torch.full_like(z, float("nan")), y)
    with pytest.raises(ValueError, match="n_clusters must be in"):
        clustering_accuracy(z, y, n_clusters=0)
    with pytest.raises(ValueError, match="of one length"):
        matched_accuracy(np.array([0, 1]), np.array([0]))
