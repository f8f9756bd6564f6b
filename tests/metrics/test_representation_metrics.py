"""Probes and reconstruction error on synthetic codes with a known answer."""

import numpy as np
import pytest
import torch

from quotient.metrics import embed_2d, knn_accuracy, linear_probe_accuracy, reconstruction_mse


def _clusters(gen, n=200, d=5, sep=6.0):
    y = torch.arange(n) % 4
    centres = torch.randn(4, d, generator=gen) * sep
    z = centres[y] + torch.randn(n, d, generator=gen)
    return z, y


def test_probes_separate_clusters_and_fail_on_noise(gen):
    z, y = _clusters(gen)
    zt, yt = z + 0.1 * torch.randn(z.shape, generator=gen), y  # same clusters, new points
    assert knn_accuracy(z, y, zt, yt) == 1.0
    assert linear_probe_accuracy(z, y, zt, yt) == 1.0
    noise = torch.randn(200, 5, generator=gen)
    shuffled = y[torch.randperm(200, generator=gen)]
    assert knn_accuracy(noise, shuffled, noise + 1e-3, y) < 0.5


def test_probes_reject_bad_codes(gen):
    z, y = _clusters(gen)
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        knn_accuracy(bad, y, z, y)
    with pytest.raises(ValueError, match="length"):
        knn_accuracy(z, y[:-1], z, y)
    with pytest.raises(ValueError, match="size"):
        linear_probe_accuracy(z, y, z[:, :3], y)


def test_reconstruction_mse(gen):
    x = torch.rand(9, 1, 4, 4, generator=gen)
    assert reconstruction_mse(lambda t: t, x) == 0.0
    assert reconstruction_mse(lambda t: t + 0.5, x, batch_size=4) == pytest.approx(0.25)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embed_2d(gen, method):
    z, _ = _clusters(gen, n=60)
    pts, idx = embed_2d(z, method=method, max_points=40)
    assert pts.shape == (40, 2) and idx.shape == (40,)
    assert np.isfinite(pts).all()
    assert len(set(idx.tolist())) == 40
    with pytest.raises(ValueError, match="method"):
        embed_2d(z, method="umap")


def test_linear_probe_of_a_single_class_is_nan_not_a_crash():
    import math

    from quotient.metrics import linear_probe_accuracy

    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(20, dtype=torch.long)
    assert math.isnan(linear_probe_accuracy(z[:10], y[:10], z[10:], y[10:]))
