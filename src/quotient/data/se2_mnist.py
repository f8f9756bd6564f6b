"""SE(2) MNIST: digits at a random rotation *and* a random position on a larger canvas.

The protocol of the unsupervised rotation/translation literature (MNIST(U)-style): each digit
of a fixed seeded split is turned by a uniform angle about the centre of its ``h × h`` frame
(:func:`~quotient.data.rotated_mnist.make_rotated_mnist`, the same split and angles as
rotated-mnist for the same seed) and pasted at a uniformly random *integer* offset onto a zero
``L × L`` canvas, so the whole frame — hence the digit — stays on the canvas:

    offset o ∈ {0, …, L − h}²,    canvas[o + (i, j)] = turned digit[i, j].

Integer offsets keep the pasted pixels unresampled. The recorded position is the centre of the
frame on the canvas, ``o + (h − 1)/2`` (row, column); MNIST digits are centred in their frame
by their centre of mass, so it is close to (not exactly) the digit's intensity centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .mnist import images_to_float, load_mnist_sample
from .rotated_mnist import make_rotated_mnist

__all__ = ["PlacedSplit", "SE2MNIST", "image_centroids", "load_se2_mnist_sample",
           "make_se2_mnist", "paste_images"]


@dataclass(frozen=True)
class PlacedSplit:
    """One split of SE(2) MNIST.

    Attributes:
        images: float32 ``(N, C, L, L)``: source image ``source_index[i]`` turned by
            ``angles[i]`` and pasted with its frame's top-left corner at ``offsets[i]``.
        labels: int64 ``(N,)``.
        angles: float64 ``(N,)`` in ``[0, 2π)`` (counter-clockwise as displayed).
        offsets: int64 ``(N, 2)`` (row, column) of the frame's top-left pixel.
        positions: float64 ``(N, 2)``: the frame centre on the canvas, ``offsets + (h − 1)/2``.
        centroids: float64 ``(N, 2)``: where the digit's intensity centroid lands — the source
            digit's centroid offset from its frame centre, turned by the angle, added to
            ``positions`` (the true placement of the digit itself).
        source_index: int64 ``(N,)`` rows of the source arrays.
    """

    images: Tensor
    labels: Tensor
    angles: Tensor
    offsets: Tensor
    positions: Tensor
    centroids: Tensor
    source_index: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class SE2MNIST:
    """Train and test splits (disjoint source digits) on an ``canvas × canvas`` canvas."""

    train: PlacedSplit
    test: PlacedSplit
    canvas: int


def paste_images(images: Tensor, offsets: Tensor, canvas: int) -> Tensor:
    """Paste ``images (N, C, h, w)`` onto zero ``canvas × canvas`` images with their top-left
    pixel at ``offsets (N, 2)`` (row, column; integers with ``0 ≤ o``, ``o + size ≤ canvas``).

    Raises:
        DataError: an image larger than the canvas, or an offset that would cut it.
    """
    n, c, h, w = images.shape
    if h > canvas or w > canvas:
        raise DataError(f"images of {h}x{w} do not fit on a {canvas}x{canvas} canvas; use a "
                        f"canvas of at least {max(h, w)} pixels")
    offsets = torch.as_tensor(offsets).long()
    if offsets.shape != (n, 2):
        raise DataError(f"offsets must have shape ({n}, 2), got {tuple(offsets.shape)}")
    if (offsets < 0).any() or (offsets[:, 0] + h > canvas).any() or \
            (offsets[:, 1] + w > canvas).any():
        raise DataError(f"offsets must keep every {h}x{w} image on the {canvas}x{canvas} "
                        f"canvas: rows in [0, {canvas - h}], columns in [0, {canvas - w}]")
    out = images.new_zeros(n, c, canvas, canvas)
    rows = offsets[:, 0, None] + torch.arange(h)  # (N, h)
    cols = offsets[:, 1, None] + torch.arange(w)  # (N, w)
    b = torch.arange(n)[:, None, None]
    out.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]] = images.permute(0, 2, 3, 1)
    return out


def image_centroids(images: Tensor) -> Tensor:
    """Intensity centroids ``(N, 2)`` (row, column; pixel centres at integers, float64) of
    ``images (N, C, h, w)`` summed over channels (the frame centre for blank images)."""
    m = images.double().abs().sum(1)
    h, w = m.shape[-2:]
    mass = m.sum((-2, -1))
    rows = (m.sum(-1) * torch.arange(h, dtype=torch.float64)).sum(-1)
    cols = (m.sum(-2) * torch.arange(w, dtype=torch.float64)).sum(-1)
    centre = torch.tensor([(h - 1) / 2, (w - 1) / 2], dtype=torch.float64)
    found = torch.stack([rows, cols], -1) / mass.clamp_min(1e-300)[:, None]
    return torch.where(mass[:, None] > 0, found, centre)


def _turn_offsets(d: Tensor, angles: Tensor) -> Tensor:
    """Row/column offsets ``d (N, 2)`` turned counter-clockwise (as displayed) by ``angles``."""
    c, s = torch.cos(angles), torch.sin(angles)
    x, y = d[:, 1], -d[:, 0]  # display coordinates: x right, y up
    return torch.stack([-(s * x + c * y), c * x - s * y], -1)


def _place(images: Tensor, labels: Tensor, angles: Tensor, source: Tensor, canvas: int,
           generator: torch.Generator, source_centroids: Tensor) -> PlacedSplit:
    h = images.shape[-1]
    offsets = torch.randint(0, canvas - h + 1, (images.shape[0], 2), generator=generator)
    placed = paste_images(images, offsets, canvas)
    positions = offsets.to(torch.float64) + (h - 1) / 2
    centroids = positions + _turn_offsets(source_centroids - (h - 1) / 2, angles)
    return PlacedSplit(placed, labels, angles, offsets, positions, centroids, source)


def make_se2_mnist(images: Tensor | np.ndarray, labels: Tensor | np.ndarray, *,
                   canvas: int = 40, n_train: int = 8000, n_test: int = 2000, seed: int = 0,
                   rotate: bool = True) -> SE2MNIST:
    """Split digits, turn each by a uniform random angle and paste it at a uniform random
    integer position on a ``canvas × canvas`` zero canvas (module docstring).

    The split and the angles are those of :func:`~quotient.data.rotated_mnist.make_rotated_mnist`
    with the same ``seed``; the offsets come from a second generator seeded by ``seed``, so
    changing the canvas does not change the split or the angles.

    Args:
        images: uint8 or float in [0, 1], ``(N, h, h)`` or ``(N, C, h, h)`` (square).
        labels: integer ``(N,)``.
        canvas: side ``L`` of the canvas, at least the image side ``h``.
        n_train, n_test: split sizes.
        seed: seed of the split, the angles and the positions.
        rotate: turn the digits (``False``: positions only, angle 0 recorded).

    Raises:
        DataError: non-square images, or a canvas smaller than the images.
    """
    x = images_to_float(images)
    h, w = x.shape[-2:]
    if h != w:
        raise DataError(f"images must be square to be turned about their centre, got {h}x{w}; "
                        "pad or crop them to a square")
    if canvas < h:
        raise DataError(f"canvas {canvas} is smaller than the {h}x{h} digits; use canvas >= {h}"
                        " (e.g. 40 or 50 for 28x28 MNIST)")
    turned = make_rotated_mnist(x, labels, n_train=n_train, n_test=n_test, seed=seed,
                                rotate_train=rotate, rotate_test=rotate)
    generator = torch.Generator().manual_seed(seed + 7919)  # positions: their own stream
    source = image_centroids(x)
    parts = [_place(s.images, s.labels, s.angles, s.source_index, canvas, generator,
                    source[s.source_index]) for s in (turned.train, turned.test)]
    return SE2MNIST(parts[0], parts[1], canvas)


def load_se2_mnist_sample(*, canvas: int = 40, n_train: int = 8000, n_test: int = 2000,
                          seed: int = 0) -> SE2MNIST:
    """:func:`make_se2_mnist` on the bundled 10,000-digit MNIST sample (works offline)."""
    sample = load_mnist_sample()
    return make_se2_mnist(sample.images, sample.labels, canvas=canvas, n_train=n_train,
                          n_test=n_test, seed=seed)
