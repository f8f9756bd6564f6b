"""MNIST: bundled sample, IDX files (raw, gzipped, corrupt), MNIST-rot .amat files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from quotient.data import (
    ImageData,
    images_to_float,
    load_idx_images,
    load_mnist_idx,
    load_mnist_rot_amat,
    load_mnist_sample,
)
from quotient.data._io import read_idx
from quotient.errors import DataError


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder: Path, prefix: str, n: int, *, gz: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    for kind, ndim, arr in (("images", 3, images), ("labels", 1, labels)):
        path = folder / f"{prefix}-{kind}-idx{ndim}-ubyte"
        data = idx_bytes(arr)
        if gz:
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
        else:
            path.write_bytes(data)
    return images


# --- bundled sample -------------------------------------------------------------------------


def test_sample_shapes_dtypes_and_ranges() -> None:
    data = load_mnist_sample()
    assert data.images.shape == (10000, 1, 28, 28) and data.images.dtype == torch.float32
    assert data.labels.shape == (10000,) and data.labels.dtype == torch.int64
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    counts = torch.bincount(data.labels, minlength=10).tolist()
    assert counts == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert torch.equal(data.labels, data.labels.sort().values)  # documented class-sorted order
    # grey levels are multiples of 1/255 (uint8 source)
    scaled = data.images[:50] * 255
    assert torch.allclose(scaled, scaled.round(), atol=1e-4)


def test_sample_looks_like_digits() -> None:
    data = load_mnist_sample()
    # MNIST digits are centred: ink mass near the middle, borders almost empty.
    mean = data.images.mean(dim=0)[0]
    assert mean[10:18, 10:18].mean() > 0.3
    assert mean[:2].max() < 0.01 and mean[:, :2].max() < 0.01
    # classes differ: mean image of 1s has less ink than mean image of 0s
    ink = [data.images[data.labels == c].mean().item() for c in (0, 1)]
    assert ink[0] > 1.5 * ink[1]


# --- IDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    train = write_mnist(tmp_path, "train", 7, gz=gz, seed=1)
    test = write_mnist(tmp_path, "t10k", 3, gz=gz, seed=2)
    a = load_mnist_idx(tmp_path, "train")
    b = load_mnist_idx(tmp_path, split="test")
    assert isinstance(a, ImageData) and len(a) == 7 and len(b) == 3
    assert a.images.shape == (7, 1, 28, 28) and a.images.dtype == torch.float32
    assert a.labels.dtype == torch.int64 and 0 <= a.labels.min() and a.labels.max() <= 9
    assert torch.allclose(a.images[:, 0] * 255, torch.from_numpy(train).float(), atol=1e-4)
    assert torch.allclose(b.images[:, 0] * 255, torch.from_numpy(test).float(), atol=1e-4)


def test_read_idx_other_types(tmp_path: Path) -> None:
    arr = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(arr, code=0x0C))
    out = read_idx(path)
    assert out.dtype == np.int32 and out.dtype.isnative and np.array_equal(out, arr)


def test_missing_idx_names_file_and_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*pass the folder"):
        load_mnist_idx(tmp_path, "train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_mnist_idx(tmp_path, "valid")  # type: ignore[arg-type]


def test_truncated_idx_raises(tmp_path: Path) -> None:
    write_mnist(tmp_path, "train", 4, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        load_mnist_idx(tmp_path)


def test_bad_magic_raises(tmp_path: Path) -> None:
    write_mnist(tmp_path, "train", 4, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"PK\x03\x04" + path.read_bytes()[4:])
    with pytest.raises(ValueError, match="bad IDX magic number"):
        load_mnist_idx(tmp_path)


def test_corrupt_gzip_raises(tmp_path: Path) -> None:
    write_mnist(tmp_path, "train", 4, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        load_mnist_idx(tmp_path)


def test_swapped_or_mismatched_idx_files(tmp_path: Path) -> None:
    write_mnist(tmp_path, "train", 4, gz=False)
    write_mnist(tmp_path, "t10k", 5, gz=False)
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    with pytest.raises(DataError, match="not an IDX image file"):
        load_idx_images(labels, images)
    with pytest.raises(DataError, match="4 images but .* 5 labels"):
        load_idx_images(images, tmp_path / "t10k-labels-idx1-ubyte")


def test_images_to_float_validates() -> None:
    u8 = torch.full((2, 5, 5), 255, dtype=torch.uint8)
    out = images_to_float(u8)
    assert out.shape == (2, 1, 5, 5) and out.dtype == torch.float32 and out.max() == 1.0
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        images_to_float(torch.full((2, 1, 5, 5), 2.0))
    with pytest.raises(DataError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        images_to_float(torch.zeros(5, 5))
    with pytest.raises(DataError, match="uint8 or floating point"):
        images_to_float(torch.zeros(2, 5, 5, dtype=torch.int64))


# --- MNIST-rot .amat ------------------------------------------------------------------------


def write_amat(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    # the original files store each image column by column
    rows = np.concatenate([images.transpose(0, 2, 1).reshape(len(images), -1),
                           labels[:, None].astype(np.float64)], axis=1)
    np.savetxt(path, rows, fmt="%.6e")


def test_amat_roundtrip_and_transpose(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28))
    images[:, 0, :] = 1.0  # a bright top row: after the fix it must be the top row again
    labels = np.array([3, 0, 9, 5])
    path = tmp_path / "mnist_all_rotation_normalized_float_test.amat"
    write_amat(path, images, labels)
    data = load_mnist_rot_amat(path)
    assert data.images.shape == (4, 1, 28, 28) and data.images.dtype == torch.float32
    assert data.labels.tolist() == [3, 0, 9, 5] and data.labels.dtype == torch.int64
    assert torch.allclose(data.images[:, 0], torch.from_numpy(images).float(), atol=1e-5)
    assert (data.images[:, 0, 0, :] == 1.0).all()
    raw = load_mnist_rot_amat(path, transpose=False)
    assert (raw.images[:, 0, :, 0] == 1.0).all()


def test_amat_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MNIST-rot .amat file not found"):
        load_mnist_rot_amat(tmp_path / "absent.amat")
    short = tmp_path / "short.amat"
    short.write_text("0.1 0.2 3\n0.1 0.2 4\n")
    with pytest.raises(DataError, match="expected rows of 785 numbers"):
        load_mnist_rot_amat(short)
    ragged = tmp_path / "ragged.amat"
    write_amat(ragged, np.zeros((2, 28, 28)), np.array([1, 2]))
    ragged.write_text(ragged.read_text() + "0.5 0.5\n")
    with pytest.raises(DataError, match="not a valid .amat table"):
        load_mnist_rot_amat(ragged)
    badlabel = tmp_path / "badlabel.amat"
    write_amat(badlabel, np.zeros((2, 28, 28)), np.array([1, 2]))
    badlabel.write_text(badlabel.read_text().replace("2.000000e+00\n", "2.500000e+00\n"))
    with pytest.raises(DataError, match="integer labels 0-9"):
        load_mnist_rot_amat(badlabel)
