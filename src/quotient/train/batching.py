"""Gathering batches from a data set by index, and moving them to a device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

__all__ = ["TensorDictDataset", "gather_batch", "seeded", "to_device"]


class TensorDictDataset(torch.utils.data.Dataset):
    """Equal-length tensors as a data set of dicts, with a fast batched ``get_batch``.

    >>> ds = TensorDictDataset(x=torch.zeros(5, 2), y=torch.arange(5))
    >>> len(ds), sorted(ds[0]), ds.get_batch(torch.tensor([1, 3]))["y"].tolist()
    (5, ['x', 'y'], [1, 3])
    """

    def __init__(self, **tensors: torch.Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDictDataset needs at least one tensor")
        lengths = {name: len(t) for name, t in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"tensors of different lengths: {lengths}")
        self.tensors = dict(tensors)
        self._n = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {name: t[index] for name, t in self.tensors.items()}

    def get_batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """The samples at ``indices``, stacked."""
        return {name: t[indices] for name, t in self.tensors.items()}


def gather_batch(dataset: Any, indices: torch.Tensor) -> Any:
    """Collate ``dataset`` samples at ``indices``.

    Uses ``dataset.get_batch(indices)`` when present, then ``dataset.__getitems__(list)``, else
    ``dataset[i]`` one by one; samples (dicts, tuples or tensors) are stacked with
    :func:`torch.utils.data.default_collate`.
    """
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    index_list = indices.tolist()
    if hasattr(dataset, "__getitems__"):
        samples = dataset.__getitems__(index_list)
    else:
        samples = [dataset[i] for i in index_list]
    return default_collate(samples)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return type(batch)({k: to_device(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # named tuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        return type(batch)(to_device(v, device) for v in batch)  # type: ignore[call-arg]
    return batch


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global CPU generator inside the block and restore its state afterwards.

    For code that only draws from the global generator (``nn.Module`` initialisation):
    ``with seeded(cfg.train.seed): model = Net()`` gives the same weights every time without
    changing the random state seen by the rest of the program.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
