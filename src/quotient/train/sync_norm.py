"""Batch normalisation over the global batch of all processes, on any device.

Under DistributedDataParallel each process sees ``B / W`` samples of a global batch of ``B``.
A plain ``BatchNorm`` then normalises with the statistics of the process's share, so training
with ``W`` processes is not training with one: the loss curve differs. PyTorch's
``nn.SyncBatchNorm`` fixes this on GPUs only; :class:`GlobalBatchNorm` does it on any device and
backend (gloo on CPU included) with two differentiable all-reduces per layer
(:func:`all_reduce_sum`):

    mean = Σ_r Σ_{i∈r} x_i / N,      var = Σ_r Σ_{i∈r} (x_i − mean)² / N,

summed over ranks ``r`` and, per channel, over the batch and spatial positions (``N`` values in
all). The backward pass of :func:`all_reduce_sum` sums the upstream
gradients over the ranks, so after DistributedDataParallel averages the parameter gradients they
equal the gradient of the loss of the whole global batch — what a single process computes.
Outside a process group (or in evaluation mode) the layer is an ordinary ``BatchNorm``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["GlobalBatchNorm", "all_reduce_sum", "convert_batchnorm"]


class _AllReduceSum(torch.autograd.Function):
    """``Σ_r x_r`` on every rank; the backward pass sums the upstream gradients the same way."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:  # noqa: ANN401 - autograd's context object
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # noqa: ANN401
        out = grad.clone()
        dist.all_reduce(out)
        return out


def all_reduce_sum(x: Tensor) -> Tensor:
    """Differentiable sum over the ranks of the default process group (every rank must call
    it, in forward and in backward). ``d/dx_r`` of a loss ``L(Σ x)`` evaluated on every rank is
    then ``Σ_r' ∂L_r'/∂(Σ x)``, so after DistributedDataParallel divides by the number of ranks
    the gradient is that of one loss on the whole batch."""
    return _AllReduceSum.apply(x)


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class GlobalBatchNorm(_BatchNorm):
    """``BatchNorm{1,2,3}d`` whose training statistics cover every process's share of the batch.

    Input ``(B_r, C, *)`` on each rank; parameters and buffers as ``nn.BatchNorm*d`` (a state
    dict of one loads into the other). Running statistics use the global mean and the unbiased
    global variance, so every rank keeps the same buffers.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (batch, channels, ...), got {x.dim()}-d "
                             "input")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or _world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
        dims = [0, *range(2, x.dim())]
        local = x.new_tensor([x.numel() / max(x.shape[1], 1)])
        totals = all_reduce_sum(torch.cat([x.sum(dims), local]))
        n = totals[-1]
        mean = totals[:-1] / n
        var = all_reduce_sum((x - mean.view(shape)).pow(2).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr,operator]
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                            else self.momentum)
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)  # type: ignore[union-attr]
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm*d`` in ``module`` by a :class:`GlobalBatchNorm` (in place).

    The new layers share the old ones' parameter and buffer tensors, so an optimizer made
    before the conversion keeps working and checkpoints keep their keys. Returns ``module``
    (or its replacement if ``module`` itself is a batch norm).
    """
    if isinstance(module, _BatchNorm) and not isinstance(
            module, (GlobalBatchNorm, nn.SyncBatchNorm)):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        for name, param in module.named_parameters(recurse=False):
            setattr(new, name, param)
        for name, buf in module.named_buffers(recurse=False):
            setattr(new, name, buf)
        new.train(module.training)
        return new
    for name, child in module.named_children():
        replaced = convert_batchnorm(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module
