"""GlobalBatchNorm: an ordinary BatchNorm in one process; over the global batch across ranks."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
from torch import nn

from quotient.testing import run_on_ranks
from quotient.train import GlobalBatchNorm, convert_batchnorm


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.SiLU(),
                        nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, momentum=None)),
                        nn.Flatten(), nn.Linear(4 * 16, 1))
    for m in net.modules():  # non-trivial affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.double()


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return (torch.randn(8, 2, 6, 6, generator=gen, dtype=torch.float64),
            torch.randn(8, 1, generator=gen, dtype=torch.float64))


def _step(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    loss = (net(x) - y).pow(2).mean()
    loss.backward()
    return float(loss.detach())


def test_single_process_is_plain_batchnorm_and_keeps_state_dict_keys():
    ref, conv = _net(), convert_batchnorm(_net())
    assert sum(isinstance(m, GlobalBatchNorm) for m in conv.modules()) == 2
    assert not any(type(m) is nn.BatchNorm2d for m in conv.modules())
    assert ref.state_dict().keys() == conv.state_dict().keys()
    x, y = _data()
    for _ in range(2):
        assert _step(ref, x, y) == pytest.approx(_step(conv, x, y), rel=1e-15)
    for (name, a), b in zip(ref.named_parameters(), conv.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-13, atol=0, msg=name)
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(value, conv.state_dict()[key], rtol=1e-13, atol=0)


def test_conversion_shares_parameters_with_an_existing_optimizer():
    net = _net()
    params = [id(p) for p in net.parameters()]
    convert_batchnorm(net)
    assert [id(p) for p in net.parameters()] == params


def _worker(rank: int, world_size: int) -> dict:
    net = convert_batchnorm(_net())
    ddp = nn.parallel.DistributedDataParallel(net)
    x, y = _data()
    loss = _step(ddp, x[4 * rank: 4 * rank + 4], y[4 * rank: 4 * rank + 4])
    return {"loss": loss, "grads": [p.grad for p in net.parameters()],
            "state": net.state_dict()}


@pytest.mark.processes
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_two_processes_give_the_gradient_of_the_global_batch():
    os.environ.pop("WORLD_SIZE", None)
    got = run_on_ranks(_worker)
    ref = _net()
    x, y = _data()
    full = _step(ref, x, y)
    # a plain BatchNorm per rank would use the statistics of 4 samples: not the same gradient
    grads = [p.grad for p in ref.parameters()]
    for a, b in zip(got["grads"], grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for key, value in ref.state_dict().items():  # running statistics of the global batch
        torch.testing.assert_close(got["state"][key], value, rtol=1e-10, atol=1e-12, msg=key)
    # rank 0's loss is the mean over its own share, normalised with the global statistics
    assert abs(got["loss"] - full) > 1e-6
