"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT) from its IDX files.

The Debian package ``dataset-fashion-mnist`` installs the four original gzipped IDX files under
``/usr/share/datasets/fashion-mnist/``; any other folder holding them can be passed as ``root``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from .mnist import ImageData, load_idx_split

__all__ = ["FASHION_MNIST_CLASSES", "FASHION_MNIST_DEBIAN_DIR", "load_fashion_mnist"]

FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``fashion-mnist`` package installs the data set (searched first)."""

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""The ten Fashion-MNIST class names, indexed by label."""


def load_fashion_mnist(
    split: Literal["train", "test"] = "train", *, root: str | os.PathLike[str] | None = None
) -> ImageData:
    """Load the Fashion-MNIST ``train`` (60,000) or ``test`` (10,000) split.

    Args:
        split: ``"train"`` or ``"test"``.
        root: folder holding ``train-images-idx3-ubyte[.gz]`` etc.; default: the folder of the
            Debian package ``dataset-fashion-mnist``.

    Returns:
        ImageData with images float32 (N, 1, 28, 28) in [0, 1] and labels int64 (N,) indexing
        ``FASHION_MNIST_CLASSES``.

    Raises:
        FileNotFoundError: the files are absent (the message names the install command).
    """
    folder = FASHION_MNIST_DEBIAN_DIR if root is None else Path(root)
    source = (
        "install them with: apt-get install dataset-fashion-mnist, or pass root= the folder "
        "holding the Fashion-MNIST IDX files"
    )
    return load_idx_split(folder, split, what="Fashion-MNIST", source=source)
