"""Data sets for learning with symmetry: loaders, seeded generators and a dict-of-tensors dataset.

Everything here works offline: a bundled 10,000-digit MNIST sample, generators for toy tasks, and
loaders for files the user has (MNIST IDX, MNIST-rot ``.amat``, Fashion-MNIST, QM9). Optional
sources (``qm9pack``, ``mnist1d``) are imported only when used.

Main entry points (shapes in each docstring):

* ``load_mnist_sample()`` -- ImageData, images float32 (10000, 1, 28, 28), labels int64
* ``load_mnist_idx(folder, split)``, ``load_mnist_rot_amat(path)``, ``load_fashion_mnist(split)``
* ``make_rotated_mnist(images, labels)`` -- seeded split, random angles kept as float64
* ``make_digit_sets``, ``make_tetris``, ``make_sbm_graphs``, ``make_shifted_signals``,
  ``make_polygon_segmentation`` -- seeded generators of the toy tasks
* ``make_mnist1d`` (optional ``mnist1d``), ``load_qm9`` (optional ``qm9pack`` or a folder)
* ``ArrayDataset(**tensors)`` -- a Dataset whose items are dicts of tensors
"""

from __future__ import annotations

from .dataset import ArrayDataset, tensor_fields
from .digit_sets import DigitSets, make_digit_sets
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from .graphs import SBMGraphs, is_connected, make_sbm_graphs
from .mnist import (
    ImageData,
    images_to_float,
    load_idx_images,
    load_mnist_idx,
    load_mnist_rot_amat,
    load_mnist_sample,
)
from .qm9 import QM9_MAX_ATOMS, QM9_PROPERTIES, Molecules, load_qm9
from .rotated_mnist import (
    RotatedMNIST,
    RotatedSplit,
    load_rotated_mnist_sample,
    make_rotated_mnist,
)
from .shapes import PolygonSegmentation, make_polygon_segmentation, rasterize_polygons
from .signals import ShiftedSignals, SignalData, make_mnist1d, make_shifted_signals
from .tetris import TETRIS_NAMES, Tetris, make_tetris, random_rotations, tetris_shapes

__all__ = [
    "FASHION_MNIST_CLASSES",
    "QM9_MAX_ATOMS",
    "QM9_PROPERTIES",
    "TETRIS_NAMES",
    "ArrayDataset",
    "DigitSets",
    "ImageData",
    "Molecules",
    "PolygonSegmentation",
    "RotatedMNIST",
    "RotatedSplit",
    "SBMGraphs",
    "ShiftedSignals",
    "SignalData",
    "Tetris",
    "images_to_float",
    "is_connected",
    "load_fashion_mnist",
    "load_idx_images",
    "load_mnist_idx",
    "load_mnist_rot_amat",
    "load_mnist_sample",
    "load_qm9",
    "load_rotated_mnist_sample",
    "make_digit_sets",
    "make_mnist1d",
    "make_polygon_segmentation",
    "make_rotated_mnist",
    "make_sbm_graphs",
    "make_shifted_signals",
    "make_tetris",
    "random_rotations",
    "rasterize_polygons",
    "tensor_fields",
    "tetris_shapes",
]
