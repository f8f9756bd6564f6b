"""Fashion-MNIST loader and the rotated-MNIST builder."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from quotient.data import (
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    load_mnist_sample,
    load_rotated_mnist_sample,
    make_rotated_mnist,
)
from quotient.data.fashion_mnist import FASHION_MNIST_DEBIAN_DIR
from quotient.errors import DataError

# --- Fashion-MNIST --------------------------------------------------------------------------


def test_fashion_missing_names_install_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"apt-get install dataset-fashion-mnist.*root="):
        load_fashion_mnist("train", root=tmp_path)


def test_fashion_from_root(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([9, 0], dtype=np.uint8)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        head = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(head + arr.tobytes()))
    data = load_fashion_mnist("test", root=tmp_path)
    assert data.images.shape == (2, 1, 28, 28) and data.labels.tolist() == [9, 0]
    assert FASHION_MNIST_CLASSES[data.labels[0]] == "Ankle boot"


@pytest.mark.skipif(
    not (FASHION_MNIST_DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install "
    "dataset-fashion-mnist); the loader is covered by test_fashion_from_root",
)
def test_fashion_debian_package_test_split() -> None:
    data = load_fashion_mnist("test")
    assert data.images.shape == (10000, 1, 28, 28) and data.images.dtype == torch.float32
    assert torch.bincount(data.labels).tolist() == [1000] * 10


# --- rotated MNIST --------------------------------------------------------------------------


def quarter_turn_rotate(angle: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Stand-in rotation: the nearest multiple of 90 degrees, applied exactly."""
    k = torch.round(angle.double() / (math.pi / 2)).long() % 4
    turned = [torch.rot90(xi, int(ki), dims=(-2, -1)) for xi, ki in zip(x, k, strict=True)]
    return torch.stack(turned)


@pytest.fixture(scope="module")
def small_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist_sample()
    return data.images[::50], data.labels[::50]  # 200 digits


def test_rotated_mnist_shapes_split_and_angles(small_mnist) -> None:
    images, labels = small_mnist
    rot = make_rotated_mnist(images, labels, n_train=120, n_test=60, seed=3)
    for split, n in ((rot.train, 120), (rot.test, 60)):
        assert split.images.shape == (n, 1, 28, 28) and split.images.dtype == torch.float32
        assert split.labels.dtype == torch.int64 and split.angles.dtype == torch.float64
        assert split.angles.min() >= 0 and split.angles.max() < 2 * math.pi
        assert torch.equal(split.labels, labels[split.source_index])
        assert split.images.min() >= 0 and split.images.max() <= 1 + 1e-6
    overlap = set(rot.train.source_index.tolist()) & set(rot.test.source_index.tolist())
    assert not overlap
    assert rot.train.angles.std() > 1.0  # spread over [0, 2*pi), std of uniform is 1.81


def test_rotated_mnist_applies_the_recorded_rotation(small_mnist) -> None:
    from quotient.actions.images import rotate_image

    images, labels = small_mnist
    rot = make_rotated_mnist(images, labels, n_train=20, n_test=10, seed=0, chunk_size=7)
    src = images[rot.train.source_index]
    expected = rotate_image(rot.train.angles.float(), src)
    assert torch.allclose(rot.train.images, expected, atol=1e-6)
    assert not torch.allclose(rot.train.images, src, atol=1e-2)
    # mass is roughly preserved (digits sit inside the disc)
    ratio = rot.train.images.sum(dim=(1, 2, 3)) / src.sum(dim=(1, 2, 3))
    assert ratio.min() > 0.85 and ratio.max() < 1.1


def test_rotated_mnist_with_stand_in_and_flags(small_mnist) -> None:
    images, labels = small_mnist
    rot = make_rotated_mnist(images, labels, n_train=30, n_test=10, seed=1,
                             rotate=quarter_turn_rotate, rotate_train=False)
    assert torch.equal(rot.train.images, images[rot.train.source_index])
    assert (rot.train.angles == 0).all()
    expected = quarter_turn_rotate(rot.test.angles, images[rot.test.source_index])
    assert torch.equal(rot.test.images, expected)


def test_rotated_mnist_seeded(small_mnist) -> None:
    images, labels = small_mnist
    kw = {"n_train": 10, "n_test": 5, "rotate": quarter_turn_rotate}
    a = make_rotated_mnist(images, labels, seed=7, **kw)
    b = make_rotated_mnist(images, labels, seed=7, **kw)
    c = make_rotated_mnist(images, labels, seed=8, **kw)
    assert torch.equal(a.train.images, b.train.images)
    assert torch.equal(a.test.angles, b.test.angles)
    assert not torch.equal(a.train.source_index, c.train.source_index)
    assert not torch.equal(a.train.angles, c.train.angles)


def test_rotated_mnist_accepts_uint8() -> None:
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 12:16] = 255
    rot = make_rotated_mnist(images, torch.arange(6), n_train=4, n_test=2,
                             rotate=quarter_turn_rotate)
    assert rot.train.images.shape == (4, 1, 28, 28) and rot.train.images.max() == 1.0


def test_rotated_mnist_bad_arguments(small_mnist) -> None:
    images, labels = small_mnist
    with pytest.raises(ValueError, match=r"exceeds the 200 images given; lower n_train"):
        make_rotated_mnist(images, labels, n_train=150, n_test=60)
    with pytest.raises(DataError, match=r"labels must be integer with shape \(200,\)"):
        make_rotated_mnist(images, labels[:-1], n_train=10, n_test=10)
    with pytest.raises(DataError, match=r"labels must be integer"):
        make_rotated_mnist(images, labels.float(), n_train=10, n_test=10)
    with pytest.raises(ValueError, match="must preserve the image shape"):
        make_rotated_mnist(images, labels, n_train=4, n_test=0,
                           rotate=lambda a, x: x[..., :-1])


def test_rotated_sample_default_sizes() -> None:
    rot = load_rotated_mnist_sample(n_train=50, n_test=20, rotate=quarter_turn_rotate)
    assert len(rot.train) == 50 and len(rot.test) == 20
