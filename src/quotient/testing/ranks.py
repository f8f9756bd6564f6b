"""Run a function on several processes joined in a ``torch.distributed`` group (for testing
distributed code on one machine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["run_on_ranks"]


def _rank_main(rank: int, fn: Callable[..., Any], args: tuple[Any, ...], world_size: int,
               init_file: str, out: str, backend: str) -> None:
    import traceback

    import torch.distributed as dist

    from ..train.distributed import close_process_group

    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    failed = True
    try:
        torch.set_num_threads(1)
        result = fn(rank, world_size, *args)
        if rank == 0:
            torch.save(result, out)
        del result  # it may hold tensors or modules tied to the group
        failed = False
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)  # fn's frames may hold a wrapper
        raise
    finally:
        # wrappers first, then a barrier, then the group (the order is the point: see
        # close_process_group); strict, so a test that leaks a wrapper fails loudly
        close_process_group(barrier=not failed, strict=not failed)


def run_on_ranks(fn: Callable[..., Any], *args: Any, world_size: int = 2,
                 backend: str = "gloo") -> Any:  # noqa: ANN401 - whatever fn returns
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes that form a
    ``torch.distributed`` process group (one thread each); return rank 0's result.

    For testing distributed code (DistributedDataParallel, all-reduces) on one machine, e.g.
    that two processes give the gradient of one. ``fn`` must be a module-level function (it is
    pickled into the new processes); its result must be made of tensors, numbers, strings and
    lists, tuples or dicts of them (it travels through ``torch.save`` and comes back with
    ``weights_only=True``). Every DistributedDataParallel wrapper ``fn`` builds must be
    unreferenced when it returns: the group is destroyed only after they are gone, and a rank
    that still holds one fails (see :func:`quotient.train.distributed.close_process_group`).
    """
    import os
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rank0.pt")
        mp.spawn(_rank_main, args=(fn, args, world_size, os.path.join(tmp, "init"), out,
                                   backend), nprocs=world_size, join=True)
        return torch.load(out, weights_only=True)
