"""Rotated MNIST from any MNIST images: a seeded split, each digit rotated by a random angle."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from quotient.errors import DataError

from .mnist import images_to_float, load_mnist_sample

__all__ = [
    "RotatedMNIST", "RotatedSplit", "load_rotated_mnist_sample", "make_rotated_mnist",
    "rotated_split"]

RotateFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class RotatedSplit:
    """One split of rotated MNIST.

    Attributes:
        images: float32 (N, 1, H, W); ``images[i]`` is source image ``source_index[i]`` rotated
            counter-clockwise (as displayed) by ``angles[i]``.
        labels: int64 (N,) digit classes.
        angles: float64 (N,) rotation angles in [0, 2*pi) radians (0 where not rotated).
        source_index: int64 (N,) row of each image in the source arrays.
    """

    images: Tensor
    labels: Tensor
    angles: Tensor
    source_index: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class RotatedMNIST:
    """Train and test splits of rotated MNIST (disjoint source images)."""

    train: RotatedSplit
    test: RotatedSplit


def _default_rotate() -> RotateFn:
    from quotient.actions.images import rotate_image

    return rotate_image


def _rotate_split(
    images: Tensor,
    labels: Tensor,
    index: Tensor,
    generator: torch.Generator,
    rotate: RotateFn | None,
    chunk_size: int,
) -> RotatedSplit:
    n = index.shape[0]
    angles = torch.rand(n, generator=generator, dtype=torch.float64) * (2.0 * math.pi)
    angles = torch.where(angles >= 2.0 * math.pi, torch.zeros_like(angles), angles)
    picked = images[index]
    if rotate is None:
        return RotatedSplit(picked.clone(), labels[index], torch.zeros_like(angles), index)
    out = torch.empty_like(picked)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        chunk = rotate(angles[start:stop].to(picked.dtype), picked[start:stop])
        if chunk.shape != picked[start:stop].shape:
            raise ValueError(
                f"rotate returned shape {tuple(chunk.shape)} for input "
                f"{tuple(picked[start:stop].shape)}; it must preserve the image shape"
            )
        out[start:stop] = chunk.to(out.dtype)
    return RotatedSplit(out, labels[index], angles, index)


def make_rotated_mnist(
    images: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    *,
    n_train: int = 8000,
    n_test: int = 2000,
    seed: int = 0,
    rotate_train: bool = True,
    rotate_test: bool = True,
    rotate: RotateFn | None = None,
    chunk_size: int = 1000,
) -> RotatedMNIST:
    """Split MNIST digits into train/test and rotate each digit by a uniform random angle.

    The split (a seeded random permutation: the first ``n_train`` for training, the next ``n_test``
    for testing) and the angles (uniform in [0, 2*pi), kept as float64 for evaluation) depend only
    on ``seed``. Digits stay 28x28: MNIST digits lie mostly inside the inscribed disc, so the
    default rotation (``quotient.actions.images.rotate_image``: counter-clockwise as displayed,
    bilinear, zero outside the inscribed disc) loses little.

    Args:
        images: uint8 or float in [0, 1], (N, H, W) or (N, C, H, W).
        labels: integer (N,).
        n_train, n_test: split sizes; ``n_train + n_test <= N``.
        seed: seed of the split and the angles.
        rotate_train, rotate_test: rotate that split (angle 0 recorded otherwise).
        rotate: ``rotate(angle (B,), x (B, C, H, W)) -> (B, C, H, W)``; default
            ``quotient.actions.images.rotate_image``.
        chunk_size: images rotated per call (bounds memory).

    Returns:
        RotatedMNIST with float32 (n, C, H, W) images, int64 labels, float64 angles per split.
    """
    x = images_to_float(images)
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.shape[0] != x.shape[0] or y.is_floating_point() or y.is_complex():
        raise DataError(
            f"labels must be integer with shape ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}"
        )
    y = y.to(torch.int64)
    if n_train < 0 or n_test < 0 or n_train + n_test == 0:
        raise ValueError(f"n_train and n_test must be >= 0 and not both 0, got {n_train}, {n_test}")
    if n_train + n_test > x.shape[0]:
        raise ValueError(
            f"n_train + n_test = {n_train + n_test} exceeds the {x.shape[0]} images given; "
            "lower n_train/n_test or pass more images"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if (rotate_train or rotate_test) and rotate is None:
        rotate = _default_rotate()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(x.shape[0], generator=generator)
    train_index, test_index = order[:n_train], order[n_train : n_train + n_test]
    train = _rotate_split(
        x, y, train_index, generator, rotate if rotate_train else None, chunk_size
    )
    test = _rotate_split(x, y, test_index, generator, rotate if rotate_test else None, chunk_size)
    return RotatedMNIST(train=train, test=test)


def load_rotated_mnist_sample(
    *, n_train: int = 8000, n_test: int = 2000, seed: int = 0, rotate: RotateFn | None = None
) -> RotatedMNIST:
    """``make_rotated_mnist`` on the bundled 10,000-digit sample (works offline)."""
    sample = load_mnist_sample()
    return make_rotated_mnist(
        sample.images, sample.labels, n_train=n_train, n_test=n_test, seed=seed, rotate=rotate
    )


def rotated_split(data: str = "", *, n_train: int | None = None, n_test: int | None = None,
                  seed: int = 0, rotate: bool = True, side_factor: int = 1,
                  batch_size: int | None = None) -> RotatedMNIST:
    """The bundled sample (``data=""``: 8,000 + 2,000 digits unless sizes are given) or your
    images (an ``.npz`` with ``images`` and ``labels``, split 80 % / 20 % unless sizes are
    given), each turned by a random angle (``rotate``), checked first: an image side not
    divisible by ``side_factor`` (what a decoder that doubles the size needs), or split sizes
    (and a ``batch_size``) that do not fit the file raise a one-line error naming the fix."""
    from ..errors import DataError
    from .user import load_image_file
    from .user_files import split_sizes

    if not data:
        return load_rotated_mnist_sample(n_train=8000 if n_train is None else n_train,
                                         n_test=2000 if n_test is None else n_test, seed=seed)
    own = load_image_file(data)
    size = own.images.shape[-1]
    if size % side_factor:
        raise DataError(f"data file {data}: image side {size} must be divisible by "
                        f"{side_factor} (the decoder doubles the size "
                        f"{side_factor.bit_length() - 1} times); pad or crop the images")
    n_train, n_test = split_sizes(len(own), n_train, n_test, what="images", source=data,
                                  batch_size=batch_size)
    return make_rotated_mnist(own.images, own.labels, n_train=n_train, n_test=n_test,
                              seed=seed, rotate_train=rotate, rotate_test=rotate)
