"""Your own sets, point clouds and graphs from ``.npz`` files, checked before training starts.

One file per data set, saved with ``numpy.savez(path, name=array, ...)`` (``N`` samples padded
to ``n`` slots; ``docs/own_data.md`` shows each kind end to end):

==========  ==================================================================================
kind        arrays
==========  ==================================================================================
sets        ``elements`` ``(N, n, d)`` real; ``mask`` ``(N, n)`` bool (True = real element),
            optional; ``labels`` ``(N,)`` integer classes, optional
points      ``points`` ``(N, n, 2)`` or ``(N, n, 3)`` real; ``mask`` ``(N, n)`` bool, optional
            (or rows of NaN as padding); ``types`` ``(N, n)`` integer ≥ 0, −1 = padding,
            optional; ``labels`` ``(N,)``, optional
graphs      ``adjacency`` ``(N, n, n)`` 0/1, symmetric, zero diagonal; ``mask`` ``(N, n)`` bool,
            optional; ``labels`` ``(N,)``, optional
==========  ==================================================================================

Padding is marked once: by ``mask`` if given, else (points) by ``types`` of −1 if given, else
(points) by rows that are NaN in every coordinate; without any of these every element is real.
Padding may hold anything. Each sample needs at least one real element; at most the declared
maximum (``max_size``) are allowed, and the samples are compacted (real elements first) and
padded or cut to that many slots. Every problem raises a :class:`~quotient.errors.DataError`
with a one-line message naming the problem and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from .user import check_labels, read_npz

__all__ = ["PaddedData", "load_graph_file", "load_point_cloud_file", "load_set_file",
           "split_data", "split_sizes"]


@dataclass(frozen=True)
class PaddedData:
    """Padded samples of one of your files.

    Attributes:
        values: float64 ``(N, n, d)`` elements or points, or ``(N, n, n)`` adjacency; real
            elements first in each sample, zero at padding.
        mask: bool ``(N, n)``, True for real elements.
        labels: int64 ``(N,)`` classes, or None.
        types: int64 ``(N, n)`` point types, −1 at padding, or None.
        name: the file's name (for titles of reports and plots).
    """

    values: Tensor
    mask: Tensor
    labels: Tensor | None = None
    types: Tensor | None = None
    name: str = ""

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, index: Tensor) -> PaddedData:
        """The samples at ``index``."""
        return replace(self, values=self.values[index], mask=self.mask[index],
                       labels=None if self.labels is None else self.labels[index],
                       types=None if self.types is None else self.types[index])

    def inputs(self, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        """The model input: ``(values, types)`` with types, else ``(values, mask)``."""
        return self.values.to(dtype), self.mask if self.types is None else self.types


def _where(path: str | os.PathLike[str]) -> str:
    return f"data file {Path(path)}"


def _real(raw: np.ndarray, key: str, where: str) -> Tensor:
    """A numeric array as float64; strings, complex numbers and the like are refused."""
    if raw.dtype.kind not in "biuf":
        raise DataError(f"{where}: {key} must be real numbers, got {raw.dtype}; store a float "
                        "array")
    return torch.as_tensor(raw.astype(np.float64))


def _mask(arrays: dict[str, np.ndarray], shape: tuple[int, int], where: str,
          element: str) -> Tensor | None:
    """The optional ``mask``: bool (or 0/1 numbers) ``(N, n)``."""
    if "mask" not in arrays:
        return None
    raw = arrays["mask"]
    if raw.shape != shape:
        raise DataError(f"{where}: mask must have shape (N, n) = {shape}, one entry per "
                        f"{element} (True = real), got {raw.shape}")
    if raw.dtype == np.bool_:
        return torch.as_tensor(raw)
    if raw.dtype.kind not in "iuf" or not np.isin(raw, (0, 1)).all():
        raise DataError(f"{where}: mask must be boolean (True = real {element}), got {raw.dtype}"
                        " values other than 0/1; store mask.astype(bool)")
    return torch.as_tensor(raw != 0)


def _check_real_elements(values: Tensor, mask: Tensor, where: str, group: str,
                         element: str) -> None:
    """At least one real element per sample, and finite values at every real one."""
    empty = ~mask.any(dim=1)
    if empty.any():
        raise DataError(f"{where}: {group} {int(empty.nonzero()[0])} has no real {element} "
                        f"(mask all False); drop it")
    bad = ~torch.isfinite(values).flatten(2).all(-1) & mask
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise DataError(f"{where}: NaN or infinite values at a real {element} ({element} {j} of "
                        f"{group} {i}); repair it or mark it as padding (mask False)")


def _fit_slots(values: Tensor, mask: Tensor, types: Tensor | None, max_size: int | None,
               where: str, group: str, element: str, setting: str, graph: bool = False
               ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Real elements first (the model is blind to the order), padding zeroed, then padded or
    cut to ``max_size`` slots (default: the file's ``n``)."""
    sizes = mask.sum(dim=1)
    slots = values.shape[1] if max_size is None else max_size
    if int(sizes.max()) > slots:
        i = int(sizes.argmax())
        raise DataError(f"{where}: {group} {i} has {int(sizes[i])} real {element}s, above "
                        f"{setting}={slots}; raise it (--set {setting}={int(sizes.max())}) or "
                        f"drop the larger {group}s")
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    mask = mask.gather(1, order)
    rows = order[..., None].expand(-1, -1, values.shape[-1])
    values = values.gather(1, rows)
    if graph:
        values = values.gather(2, order[:, None, :].expand_as(values))
        values = values * (mask[:, :, None] & mask[:, None, :])
    else:
        values = values.masked_fill(~mask[..., None], 0.0)  # NaN padding becomes 0
    if types is not None:
        types = types.gather(1, order).masked_fill(~mask, -1)
    pad = slots - values.shape[1]
    if pad < 0:  # only padding is cut: every sample fits
        values, mask = values[:, :slots], mask[:, :slots]
        values = values[:, :, :slots] if graph else values
        types = None if types is None else types[:, :slots]
    elif pad > 0:
        values = torch.nn.functional.pad(values, (0, pad if graph else 0, 0, pad))
        mask = torch.nn.functional.pad(mask, (0, pad))
        types = None if types is None else torch.nn.functional.pad(types, (0, pad), value=-1)
    return values, mask, types


def _labels(arrays: dict[str, np.ndarray], n: int, where: str) -> Tensor | None:
    return check_labels(arrays["labels"], n, where) if "labels" in arrays else None


def _shape_error(where: str, key: str, want: str, got: tuple[int, ...], hint: str = ""
                 ) -> NoReturn:
    raise DataError(f"{where}: {key} must have shape {want}, got {got}{hint}")


def load_set_file(path: str | os.PathLike[str], *, max_elements: int | None = None
                  ) -> PaddedData:
    """Sets of feature vectors: ``elements (N, n, d)``, optional ``mask``, ``labels``.

    ``max_elements``: the most real elements a set may have, and the slots of the result
    (default: the file's ``n``)."""
    where = _where(path)
    arrays = read_npz(path, ("elements",), ("mask", "labels"))
    raw = arrays["elements"]
    x = _real(raw, "elements", where)
    if x.ndim != 3:
        hint = "; for sets of single numbers use elements[..., None]" if x.ndim == 2 else ""
        _shape_error(where, "elements", "(N, n, d) (N sets of n elements of d features)",
                     raw.shape, hint)
    if 0 in raw.shape:
        raise DataError(f"{where} holds no sets, or empty ones (elements of shape {raw.shape}); "
                        "every set needs at least one element of at least one feature")
    mask = _mask(arrays, raw.shape[:2], where, "element")
    mask = torch.ones(raw.shape[:2], dtype=torch.bool) if mask is None else mask
    _check_real_elements(x, mask, where, "set", "element")
    x, mask, _ = _fit_slots(x, mask, None, max_elements, where, "set", "element",
                            "max_elements")
    return PaddedData(x, mask, _labels(arrays, raw.shape[0], where), name=Path(path).name)


def _types(raw: np.ndarray, shape: tuple[int, int], where: str, n_types: int | None) -> Tensor:
    """Point types: integers ``(N, n)``, −1 = padding, below ``n_types`` when declared."""
    if raw.dtype.kind not in "iu":
        raise DataError(f"{where}: types must be integers (0, 1, 2, ...; -1 = padding), got "
                        f"{raw.dtype}; store types.astype(int)")
    if raw.shape != shape:
        _shape_error(where, "types", f"(N, n) = {shape} (one per point)", raw.shape)
    types = torch.as_tensor(raw.astype(np.int64))
    if int(types.min()) < -1:
        raise DataError(f"{where}: types must be >= -1 (-1 = padding), found "
                        f"{int(types.min())}")
    if n_types is not None and int(types.max()) >= n_types:
        top = int(types.max())
        raise DataError(f"{where}: types reach {top}, beyond n_types={n_types} (types 0 to "
                        f"{n_types - 1}); raise it (--set n_types={top + 1})")
    return types


def load_point_cloud_file(path: str | os.PathLike[str], *, max_points: int | None = None,
                          n_types: int | None = None) -> PaddedData:
    """Point clouds in the plane or in space: ``points (N, n, 2 or 3)``, optional ``mask``
    (or all-NaN rows as padding), ``types`` (−1 = padding) and ``labels``.

    ``max_points``: the most real points a cloud may have, and the slots of the result
    (default: the file's ``n``); ``n_types``: types must lie below it (default: any)."""
    where = _where(path)
    arrays = read_npz(path, ("points",), ("mask", "types", "labels"))
    raw = arrays["points"]
    x = _real(raw, "points", where)
    if x.ndim != 3 or x.shape[-1] not in (2, 3):
        hint = ("; transpose (N, d, n) arrays with points.transpose(0, 2, 1)"
                if x.ndim == 3 and x.shape[1] in (2, 3) else "")
        _shape_error(where, "points", "(N, n, 2) or (N, n, 3) (N clouds of n points in the "
                     "plane or in space)", raw.shape, hint)
    if 0 in raw.shape:
        raise DataError(f"{where} holds no point clouds, or empty ones (points of shape "
                        f"{raw.shape}); every cloud needs at least one point")
    shape = raw.shape[:2]
    mask = _mask(arrays, shape, where, "point")
    types = _types(arrays["types"], shape, where, n_types) if "types" in arrays else None
    if mask is not None and types is not None:
        untyped = mask & (types < 0)
        if untyped.any():
            i, j = (int(v) for v in untyped.nonzero()[0])
            raise DataError(f"{where}: point {j} of cloud {i} is real (mask True) but has type "
                            "-1; give its type or mark it as padding in the mask")
    if mask is None and types is not None:
        mask = types >= 0
    if mask is None:
        nan = torch.isnan(x)
        partial = nan.any(-1) & ~nan.all(-1)
        if partial.any():
            i, j = (int(v) for v in partial.nonzero()[0])
            raise DataError(f"{where}: point {j} of cloud {i} is NaN in some coordinates only; "
                            "a padding row is NaN in every coordinate (or pass a mask)")
        mask = ~nan.all(-1)
    _check_real_elements(x, mask, where, "cloud", "point")
    x, mask, types = _fit_slots(x, mask, types, max_points, where, "cloud", "point",
                                "max_points")
    return PaddedData(x, mask, _labels(arrays, shape[0], where), types, name=Path(path).name)


def _first(bad: Tensor) -> tuple[int, ...]:
    return tuple(int(v) for v in bad.nonzero()[0])


def load_graph_file(path: str | os.PathLike[str], *, max_nodes: int | None = None
                    ) -> PaddedData:
    """Undirected simple graphs: ``adjacency (N, n, n)`` 0/1, symmetric, zero diagonal, with
    no edge at a padding node; optional ``mask`` and ``labels``.

    ``max_nodes``: the most real nodes a graph may have, and the slots of the result
    (default: the file's ``n``)."""
    where = _where(path)
    arrays = read_npz(path, ("adjacency",), ("mask", "labels"))
    raw = arrays["adjacency"]
    a = _real(raw, "adjacency", where)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        hint = "; for one graph use adjacency[None]" if a.ndim == 2 else ""
        _shape_error(where, "adjacency", "(N, n, n) (N graphs of n nodes)", raw.shape, hint)
    if 0 in raw.shape:
        raise DataError(f"{where} holds no graphs, or empty ones (adjacency of shape "
                        f"{raw.shape}); every graph needs at least one node")
    off = (a != 0) & (a != 1)
    if off.any():
        i, j, k = _first(off)
        raise DataError(f"{where}: adjacency must hold 0/1 entries (edges), found "
                        f"{float(a[i, j, k])} in graph {i}; threshold weighted graphs first "
                        "(adjacency > 0)")
    asym = a != a.transpose(1, 2)
    if asym.any():
        i, j, k = _first(asym)
        raise DataError(f"{where}: adjacency of graph {i} is not symmetric (A[{j}, {k}] = "
                        f"{int(a[i, j, k])}, A[{k}, {j}] = {int(a[i, k, j])}); store undirected "
                        "graphs, e.g. A | A.T")
    loops = torch.diagonal(a, dim1=1, dim2=2) != 0
    if loops.any():
        i, j = _first(loops)
        raise DataError(f"{where}: graph {i} has a self-loop at node {j} (A[{j}, {j}] = 1); set "
                        "the diagonal to 0")
    mask = _mask(arrays, raw.shape[:2], where, "node")
    if mask is None:
        mask = torch.ones(raw.shape[:2], dtype=torch.bool)
    stray = (a != 0).any(-1) & ~mask
    if stray.any():
        i, j = _first(stray)
        raise DataError(f"{where}: graph {i} has an edge at padding node {j} (mask False); "
                        "remove the edge or mark the node as real")
    _check_real_elements(a, mask, where, "graph", "node")
    a, mask, _ = _fit_slots(a, mask, None, max_nodes, where, "graph", "node", "max_nodes",
                            graph=True)
    return PaddedData(a, mask, _labels(arrays, raw.shape[0], where), name=Path(path).name)


def split_sizes(total: int, n_train: int | None, n_test: int | None, *, what: str,
                source: str, batch_size: int | None = None) -> tuple[int, int]:
    """Training and test sizes for ``total`` samples of ``source``: the given ones, or what
    the file leaves (``None``: 80 % / 20 % of it, each at least one sample).

    Raises:
        DataError: fewer than two samples.
        ConfigError: the sizes exceed the file, or ``batch_size`` exceeds the training set
            (no training step could be taken).
    """
    if total < 2:
        raise DataError(f"{source} holds too few {what} ({total}); a split needs at least 2 "
                        "(one to train on, one to test)")
    train = min(total - 1, max(1, round(0.8 * total)))
    fix = f"pass e.g. --set n_train={train} n_test={total - train}"
    if n_train is not None and n_test is not None:
        if n_train + n_test > total:
            raise ConfigError(f"n_train + n_test = {n_train} + {n_test} exceeds the {total} "
                              f"{what} of {source}; {fix}")
    elif n_train is not None:
        if n_train >= total:
            raise ConfigError(f"n_train = {n_train} leaves none of the {total} {what} of "
                              f"{source} to test on; {fix}")
        n_test = total - n_train
    elif n_test is not None:
        if n_test >= total:
            raise ConfigError(f"n_test = {n_test} leaves none of the {total} {what} of "
                              f"{source} to train on; {fix}")
        n_train = total - n_test
    else:
        n_train, n_test = train, total - train
    if batch_size is not None and batch_size > n_train:
        raise ConfigError(f"train.batch_size={batch_size} is larger than the {n_train} training "
                          f"{what} of {source}; pass e.g. --set train.batch_size="
                          f"{max(1, n_train // 4)}")
    return n_train, n_test


def split_data(data: PaddedData, n_train: int, n_test: int, seed: int
               ) -> tuple[PaddedData, PaddedData]:
    """A seeded random split: the first ``n_train`` of a permutation to train, the next
    ``n_test`` to test."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.take(order[:n_train]), data.take(order[n_train:n_train + n_test])
