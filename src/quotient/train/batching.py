"""Gathering batches from a data set by index, and moving them to a device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

__all__ = ["TensorDictDataset", "batch_input", "gather_batch", "input_dataset", "seeded",
           "to_device"]


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


def input_dataset(x: torch.Tensor | tuple[torch.Tensor, ...], **extra: torch.Tensor
                  ) -> TensorDictDataset:
    """A data set of model inputs: a tensor ``x`` (stored as ``"x"``) or a tuple such as
    ``(x, mask)`` (stored as ``"x.0"``, ``"x.1"``, ...), plus named extras (e.g. labels).
    :func:`batch_input` turns a batch of it back into the model's input.

    >>> ds = input_dataset((torch.zeros(4, 3, 2), torch.ones(4, 3, dtype=torch.bool)))
    >>> [t.shape for t in batch_input(ds.get_batch(torch.tensor([0, 2])))]
    [torch.Size([2, 3, 2]), torch.Size([2, 3])]
    """
    parts = ({"x": x} if isinstance(x, torch.Tensor)
             else {f"x.{i}": part for i, part in enumerate(x)})
    return TensorDictDataset(**parts, **extra)


def batch_input(batch: Mapping[str, torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """The model input of a batch of :func:`input_dataset`: ``batch["x"]`` or the tuple of
    ``batch["x.0"], batch["x.1"], ...``."""
    if "x" in batch:
        return batch["x"]
    parts = sorted((k for k in batch if k.startswith("x.")), key=lambda k: int(k[2:]))
    if not parts:
        raise KeyError(f"the batch holds no model input (keys: {sorted(batch)}); build the data "
                       "set with input_dataset(x)")
    return tuple(batch[k] for k in parts)


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
