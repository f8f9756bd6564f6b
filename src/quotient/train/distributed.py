"""Device selection and DistributedDataParallel set-up under ``torchrun``.

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and the rendezvous address); when
``WORLD_SIZE`` is above 1 the trainer joins the process group (gloo on CPU, nccl on CUDA), wraps
the model in :class:`~torch.nn.parallel.DistributedDataParallel` and splits every global batch
into equal contiguous shares, one per rank.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError

__all__ = [
    "DistInfo",
    "close_process_group",
    "epoch_permutation",
    "mix_seed",
    "rank_share",
    "reduce_step_values",
    "select_device",
    "setup_distributed",
    "teardown_distributed",
]


def select_device(preference: str = "auto", *, local_rank: int = 0) -> torch.device:
    """The device to train on.

    ``"auto"``: CUDA (device ``local_rank``) when available, else CPU. ``"cpu"``, ``"cuda"`` and
    ``"cuda:N"`` are taken as given.

    Raises:
        ConfigError: CUDA is requested but not available, or the name is not a device.
    """
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    if preference == "cpu":
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"train.device={preference!r} but CUDA is not available here; use 'auto' or 'cpu'")
        if preference == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(preference)
    raise ConfigError(f"train.device={preference!r} is not 'auto', 'cpu', 'cuda' or 'cuda:N'")


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: rank, world size, local rank, device, and whether it owns the
    process group (joined it in :func:`setup_distributed`)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes files."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def setup_distributed(device_preference: str = "auto") -> DistInfo:
    """Join the process group when launched by ``torchrun`` with more than one process.

    Without ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) this returns a single-process
    :class:`DistInfo`. A process group initialised by the caller is reused.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        device = select_device(device_preference, local_rank=local_rank)
        return DistInfo(rank, world, local_rank, device, owns_group=False)
    device = select_device(device_preference, local_rank=local_rank)
    if world <= 1:
        return DistInfo(0, 1, 0, device)
    if not dist.is_available():
        raise ConfigError("this PyTorch build has no torch.distributed; run without torchrun")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local_rank, device, owns_group=True)


def teardown_distributed(info: DistInfo, *, failed: bool = False) -> None:
    """Leave the process group if :func:`setup_distributed` joined it (see
    :func:`close_process_group`). After a failure the ranks do not meet first: the others may
    be waiting in a collective that this rank will never join."""
    if info.owns_group and dist.is_initialized():
        close_process_group(barrier=not failed)


def _live_wrappers() -> list[nn.parallel.DistributedDataParallel]:
    return [o for o in gc.get_objects() if isinstance(o, nn.parallel.DistributedDataParallel)]


def close_process_group(*, barrier: bool = True, strict: bool = False) -> None:
    """Destroy the default process group after every DistributedDataParallel wrapper that
    could still use it is gone.

    Why the order matters: a wrapper owns a C++ ``Reducer``, and the reducer holds the process
    group. Wrappers outlive the code that built them more often than it seems — the first one a
    process builds triggers torch's lazy import of ``torch._dynamo``, during which
    ``torch.fx.wrap`` leaves a reference cycle of frames that keeps the whole calling stack
    (the wrapper among its locals) alive until the cyclic garbage collector next runs. Destroying
    the group first leaves the reducer holding a group that is shut down, and whenever the
    collector then frees it — at some allocation, or while the interpreter shuts down — its
    destructor tears down the group's gloo state from that arbitrary point; spawned ranks died
    with SIGABRT ("terminate called without an active exception") that way now and then. A
    barrier does not help: it orders the ranks, not the objects inside each rank.

    So: collect reference cycles (freeing unreachable wrappers and their reducers while the
    group is alive), make sure none is left, meet the other ranks, then destroy the group.

    Args:
        barrier: meet the other ranks before destroying (``False`` after a failure).
        strict: raise ``RuntimeError`` (after destroying the group) when a wrapper is still
            referenced; otherwise it is left to its holder. Tests use ``strict=True``.
    """
    gc.collect()
    held = len(_live_wrappers())
    try:
        if barrier:
            dist.barrier()  # no rank closes its connections while another still talks
    finally:
        dist.destroy_process_group()
    gc.collect()
    if held and strict:
        raise RuntimeError(
            f"{held} DistributedDataParallel wrapper(s) were still referenced when the process "
            "group was destroyed; drop every reference to them (and to results that hold them) "
            "before the distributed code returns")


def mix_seed(*parts: int | str) -> int:
    """A 63-bit seed derived from ``parts`` (stable across runs, platforms and world sizes)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def epoch_permutation(seed: int, epoch: int, n: int) -> tuple[torch.Tensor, torch.Generator]:
    """The data order of ``epoch``: a permutation of ``range(n)`` drawn from an explicit
    generator seeded by ``(seed, epoch)`` only. Returns it and the generator after drawing."""
    generator = torch.Generator().manual_seed(mix_seed(seed, "epoch", epoch))
    return torch.randperm(n, generator=generator), generator


def rank_share(global_batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """The contiguous share of a global batch of indices that ``rank`` trains on."""
    if global_batch.numel() % world_size:
        raise ConfigError(
            f"train.batch_size={global_batch.numel()} is not divisible by the {world_size} "
            "processes; choose a multiple of the number of processes")
    share = global_batch.numel() // world_size
    return global_batch[rank * share:(rank + 1) * share]


def reduce_step_values(
    loss: torch.Tensor, logs: Mapping[str, Any], stop: bool, info: DistInfo
) -> dict[str, float]:
    """The step's loss and logs as floats, averaged over ranks, with an agreed stop flag.

    All ranks take part in one ``all_reduce`` so that they agree on NaN checks and on stopping
    (the flag, under ``"__stop__"``, is positive when any rank asked to stop).
    """
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise TypeError("loss_fn must return (scalar loss tensor, dict of floats)")
    keys = ["loss", *sorted(logs)]
    parts = [loss.detach().to(torch.float64).reshape(())]
    parts += [torch.as_tensor(logs[k], dtype=torch.float64, device=loss.device).reshape(())
              for k in sorted(logs)]
    parts.append(torch.tensor(float(stop), dtype=torch.float64, device=loss.device))
    vec = torch.stack(parts)
    if info.distributed:
        dist.all_reduce(vec)
        vec[:-1] /= info.world_size
    numbers = vec.tolist()
    out = dict(zip(keys, numbers[:-1], strict=True))
    out["__stop__"] = numbers[-1]
    return out
