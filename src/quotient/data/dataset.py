"""A minimal map-style dataset of named tensors, batched by the default collate into dicts."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "tensor_fields"]


class ArrayDataset(Dataset[dict[str, Tensor]]):
    """Named tensors sharing their first dimension; item ``i`` is ``{name: tensor[i]}``.

    ``torch.utils.data.DataLoader`` batches these dicts into dicts of stacked tensors.

    Example:
        ``ArrayDataset(images=x, labels=y)[0] == {"images": x[0], "labels": y[0]}``
    """

    def __init__(self, **tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("ArrayDataset needs at least one named tensor, e.g. images=x")
        lengths = {}
        for name, value in tensors.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
            if value.ndim == 0:
                raise ValueError(f"{name} is 0-dimensional; it needs a leading sample axis")
            lengths[name] = value.shape[0]
        if len(set(lengths.values())) != 1:
            raise ValueError(f"all tensors need the same first dimension, got {lengths}")
        self.tensors: dict[str, Tensor] = dict(tensors)
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {name: value[index] for name, value in self.tensors.items()}

    @classmethod
    def from_dataclass(cls, data: Any, *, exclude: tuple[str, ...] = ()) -> ArrayDataset:
        """Build from a data container (e.g. ``make_tetris(...)``) using its per-sample tensors."""
        return cls(**{k: v for k, v in tensor_fields(data).items() if k not in exclude})


def tensor_fields(data: Any) -> dict[str, Tensor]:
    """The per-sample tensor fields of a dataclass instance.

    A field is per-sample if it is a tensor whose first dimension is ``len(data)`` and its
    dataclass field is not marked ``metadata={"per_sample": False}``.
    """
    if not dataclasses.is_dataclass(data) or isinstance(data, type):
        raise TypeError(f"expected a dataclass instance, got {type(data).__name__}")
    n = len(data)
    return {
        f.name: value
        for f in dataclasses.fields(data)
        if f.metadata.get("per_sample", True)
        and isinstance(value := getattr(data, f.name), torch.Tensor)
        and value.ndim > 0
        and value.shape[0] == n
    }
