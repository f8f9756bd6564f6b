"""Distributed teardown frees every DistributedDataParallel wrapper before the process group.

A wrapper's reducer holds the group; one that outlives it (the first wrapper of a process is
kept alive by a reference cycle until the garbage collector runs) used to abort spawned ranks
now and then. These tests pin the order: wrappers are collected, a leaked one is refused."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.multiprocessing import ProcessRaisedException

from quotient.testing import run_on_ranks
from quotient.train.distributed import _live_wrappers

pytestmark = [pytest.mark.processes,
              pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                 reason="torch.distributed with gloo is not available")]

_KEPT: list[nn.Module] = []


def _one_step(rank: int) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    net = nn.parallel.DistributedDataParallel(model)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
    net(x).pow(2).mean().backward()
    return net, model.weight.grad.clone()


def _train_and_count(rank: int, world_size: int) -> dict:
    net, grad = _one_step(rank)
    del net
    return {"grad": grad}


def _train_and_keep(rank: int, world_size: int) -> dict:
    net, grad = _one_step(rank)
    _KEPT.append(net)  # a leak: the wrapper outlives the function
    return {"grad": grad}


def _after_teardown(rank: int, world_size: int) -> dict:
    """Build a wrapper, drop it, and report how many wrappers a collection leaves."""
    import gc

    _train_and_count(rank, world_size)
    gc.collect()
    return {"alive": len(_live_wrappers())}


def test_gradients_are_averaged_and_no_wrapper_survives_the_worker():
    got = run_on_ranks(_train_and_count)
    grads = []
    for rank in range(2):
        torch.manual_seed(0)
        model = nn.Linear(3, 2).double()
        x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
        model(x).pow(2).mean().backward()
        grads.append(model.weight.grad)
    torch.testing.assert_close(got["grad"], (grads[0] + grads[1]) / 2, rtol=1e-12, atol=0)
    assert run_on_ranks(_after_teardown)["alive"] == 0


def test_a_wrapper_still_referenced_at_teardown_is_refused():
    with pytest.raises(ProcessRaisedException, match="still referenced"):
        run_on_ranks(_train_and_keep)
