"""Your own data from ``.npz`` files, checked before any training starts.

Save arrays with ``numpy.savez(path, images=..., labels=...)`` (images) or
``numpy.savez(path, points=..., labels=...)`` (point clouds) and pass the path to an experiment,
e.g. ``quotient train rotated-mnist --out DIR --set data=my_images.npz``. Every problem with the
file (missing, unreadable, wrong keys, shapes, dtypes, NaN, empty) raises a
:class:`~quotient.errors.DataError` whose one-line message names the problem and the fix.
Sets, padded point clouds and graphs: :mod:`quotient.data.user_files` (formats in
``docs/own_data.md``).
"""

from __future__ import annotations

import difflib
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError, MissingDataError, UnsafeFileError
from .mnist import ImageData, images_to_float

__all__ = ["check_labels", "load_image_file", "load_point_file", "read_npz"]


def _misspelt(present: set[str], known: tuple[str, ...]) -> tuple[str, str] | None:
    """An array name that looks like a misspelling of a known one (``maks`` for ``mask``)."""
    for name in sorted(present - set(known)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        if close and close[0] not in present:
            return name, close[0]
    return None


def read_npz(path: str | os.PathLike[str], required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` file (no pickled objects are ever loaded).

    Args:
        path: the file.
        required: names of the arrays it must hold.
        optional: names of the arrays it may hold (returned when present). Other arrays are
            ignored, unless a name looks like a misspelt optional one (``maks``), which is an
            error rather than a silently ignored array.

    Raises:
        MissingDataError: ``path`` does not exist.
        DataError: ``path`` is a folder, unreadable, not an ``.npz`` archive, holds object
            arrays, or lacks a required array.
        UnsafeFileError: an array to read holds pickled Python objects.
    """
    p = Path(path)
    if not p.exists():
        raise MissingDataError(f"data file {p} does not exist; check the path")
    if p.is_dir():
        raise DataError(f"data file {p} is a folder; pass the path of an .npz file")
    keys = ", ".join(required)
    hint = f"save it with numpy.savez(path, {', '.join(f'{k}=...' for k in required)})"
    try:
        with p.open("rb") as fh:
            magic = fh.read(6)
            if magic.startswith(b"\x93NUMPY"):
                raise DataError(f"data file {p} holds a single array, not named arrays; {hint}")
            if not magic.startswith(b"PK"):
                raise DataError(f"data file {p} is not a readable .npz archive (it is no zip "
                                f"file); {hint}")
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as archive:
                present = set(archive.files)
                missing = [k for k in required if k not in present]
                if missing:
                    found = ", ".join(sorted(present)) or "nothing"
                    raise DataError(f"data file {p} has no array {missing[0]!r} (it holds: "
                                    f"{found}; needed: {keys}); {hint}")
                typo = _misspelt(present, required + optional)
                if typo is not None:
                    raise DataError(f"data file {p} holds an array {typo[0]!r}, not used by "
                                    f"this kind of data; did you mean {typo[1]!r}? Rename it")
                return {k: archive[k] for k in required + optional if k in present}
    except DataError:
        raise
    except PermissionError as err:
        raise DataError(f"data file {p} cannot be read ({err.strerror}); fix its "
                        "permissions") from err
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"data file {p} is not a readable .npz archive ({err}); {hint}") from err
    except ValueError as err:  # object arrays need pickle, which we refuse
        if "allow_pickle" in str(err):
            raise UnsafeFileError(
                f"refused to read data file {p}: it holds pickled Python objects (object "
                "arrays), and unpickling them could run code; store plain numeric arrays") \
                from None
        raise DataError(f"data file {p} holds object arrays or corrupt entries ({err}); store "
                        "plain numeric arrays") from err


def check_labels(labels: np.ndarray | Tensor, n: int, where: str) -> Tensor:
    """Integer class labels ``(n,)`` as int64, non-negative; a :class:`DataError` otherwise."""
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"{where}: labels must have shape ({n},) (one per sample), got "
                        f"{tuple(y.shape)}")
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        if y.is_floating_point() and torch.isfinite(y).all() and (y == y.round()).all():
            y = y.to(torch.int64)  # whole numbers stored as floats are fine
        else:
            raise DataError(f"{where}: labels must be integers, got {y.dtype}; store class "
                            "indices 0, 1, 2, ...")
    y = y.to(torch.int64)
    if n and int(y.min()) < 0:
        raise DataError(f"{where}: labels must be >= 0, found {int(y.min())}; store class "
                        "indices 0, 1, 2, ...")
    return y


def load_image_file(path: str | os.PathLike[str], *, square: bool = True) -> ImageData:
    """Labelled images from an ``.npz`` with ``images`` and ``labels``.

    Args:
        path: the file; ``images`` uint8 (values 0–255) or float (values in [0, 1]), shaped
            ``(N, H, W)`` or ``(N, C, H, W)``; ``labels`` integer ``(N,)``.
        square: require ``H == W`` (rotations map a square onto itself).

    Returns:
        ImageData: float32 ``(N, C, H, W)`` images in [0, 1] and int64 labels.
    """
    arrays = read_npz(path, ("images", "labels"))
    where = f"data file {Path(path)}"
    raw = arrays["images"]
    if raw.dtype.kind not in "uf" or (raw.dtype.kind == "u" and raw.dtype != np.uint8):
        raise DataError(f"{where}: images must be uint8 (0–255) or floating point (0–1), got "
                        f"{raw.dtype}")
    if (raw.ndim == 4 and raw.shape[1] == raw.shape[2] != raw.shape[3]
            and raw.shape[3] in (1, 3, 4)):  # (N, H, W, C), as most image libraries store them
        raise DataError(f"{where}: images of shape {raw.shape} look channels-last (N, H, W, C); "
                        "store them as (N, C, H, W), e.g. images.transpose(0, 3, 1, 2)")
    try:
        x = images_to_float(raw)
    except DataError as err:
        raise DataError(f"{where}: {err}") from err
    if x.shape[0] == 0:
        raise DataError(f"{where} holds no images (shape {tuple(raw.shape)}); add some")
    if square and x.shape[-1] != x.shape[-2]:
        raise DataError(f"{where}: images must be square for rotations, got "
                        f"{x.shape[-2]}x{x.shape[-1]}; pad or crop them")
    return ImageData(x, check_labels(arrays["labels"], x.shape[0], where))


def load_point_file(path: str | os.PathLike[str], *, dim: int = 3) -> tuple[Tensor, Tensor]:
    """Point clouds from an ``.npz`` with ``points`` ``(N, n, dim)`` and ``labels`` ``(N,)``,
    all points real (for padding, a mask or atom types:
    :func:`~quotient.data.user_files.load_point_cloud_file`).

    Returns:
        ``(points, labels)``: float64 ``(N, n, dim)`` finite coordinates and int64 labels.
    """
    arrays = read_npz(path, ("points", "labels"))
    where = f"data file {Path(path)}"
    raw = arrays["points"]
    if raw.dtype.kind not in "fiu":
        raise DataError(f"{where}: points must be real numbers, got {raw.dtype}")
    if raw.ndim != 3 or raw.shape[-1] != dim:
        raise DataError(f"{where}: points must have shape (N, n, {dim}), got {raw.shape}")
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise DataError(f"{where} holds no point clouds or empty ones (shape {raw.shape}); "
                        "every cloud needs at least one point")
    points = torch.as_tensor(raw).to(torch.float64)
    if not torch.isfinite(points).all():
        bad = int((~torch.isfinite(points)).any(-1).any(-1).nonzero()[0])
        raise DataError(f"{where}: points hold NaN or infinite coordinates (first in cloud "
                        f"{bad}); remove or repair those clouds")
    return points, check_labels(arrays["labels"], raw.shape[0], where)
