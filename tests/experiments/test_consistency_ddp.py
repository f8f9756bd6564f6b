"""The invariance penalty under DistributedDataParallel is the penalty of the global batch:
two gloo processes give the single process's loss and gradient (float64)."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn

from quotient.models.baselines import random_rotation
from quotient.models.image_giae import image_giae
from quotient.models.losses import consistency_loss
from quotient.testing import run_on_ranks
from quotient.train import StepContext, convert_batchnorm

BATCH = 8


def _model() -> nn.Module:
    torch.manual_seed(0)
    return convert_batchnorm(image_giae(image_size=12, latent_dim=3, widths=(2, 3),
                                        decoder_widths=(4, 4, 4)).double())


def _batch() -> torch.Tensor:
    return torch.rand(BATCH, 1, 12, 12, generator=torch.Generator().manual_seed(1),
                      dtype=torch.float64)


def _ctx(rank: int, world_size: int, share: torch.Tensor) -> StepContext:
    # the training loop seeds the step generator by (seed, step, rank)
    gen = torch.Generator().manual_seed(100 + rank)
    return StepContext(0, 0, 0, rank, world_size, share, gen)


def _loss_and_grads(net: nn.Module, model: nn.Module, x: torch.Tensor, ctx: StepContext,
                    fraction: float) -> tuple[dict[str, float], list[torch.Tensor]]:
    loss, logs = consistency_loss(random_rotation, 0.5, fraction)(net, {"x": x}, ctx)
    loss.backward()
    return logs, [p.grad.clone() for p in model.parameters()]


def _worker(rank: int, world_size: int, fraction: float) -> dict:
    model = _model()
    net = nn.parallel.DistributedDataParallel(model)
    half = BATCH // world_size
    share = torch.arange(rank * half, (rank + 1) * half)
    logs, grads = _loss_and_grads(net, model, _batch()[share], _ctx(rank, world_size, share),
                                  fraction)
    totals = torch.tensor([logs["loss"], logs["rec"], logs["inv"]], dtype=torch.float64)
    dist.all_reduce(totals)  # the training loop logs the ranks' mean
    return {"logs": (totals / world_size).tolist(), "grads": grads}


@pytest.mark.processes
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_two_processes_compute_the_global_penalty_and_its_gradient():
    got = run_on_ranks(_worker, 0.25)
    model = _model()
    logs, grads = _loss_and_grads(model, model, _batch(), _ctx(0, 1, torch.arange(BATCH)), 0.25)
    assert logs["inv"] > 1e-6, "the penalty must be active for the comparison to mean anything"
    assert got["logs"] == pytest.approx([logs["loss"], logs["rec"], logs["inv"]], rel=1e-10)
    for a, b in zip(got["grads"], grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
