"""Batch normalisation over the global batch of all processes, on any device.

Under DistributedDataParallel each process sees ``B / W`` samples of a global batch of ``B``.
A plain ``BatchNorm`` then normalises with the statistics of the process's share, so training
with ``W`` processes is not training with one: the loss curve differs. PyTorch's
``nn.SyncBatchNorm`` fixes this on GPUs only; :class:`GlobalBatchNorm` does it on any device and
backend (gloo on CPU included) with two differentiable all-reduces per layer:

    mean = Σ_r Σ_{i∈r} x_i / N,      var = Σ_r Σ_{i∈r} (x_i − mean)² / N,

summed over ranks ``r`` and, per channel, over the batch and spatial positions (``N`` values in
all). The backward pass of ``torch.distributed.nn.functional.all_reduce`` sums the upstream
gradients over the ranks, so after DistributedDataParallel averages the parameter gradients they
equal the gradient of the loss of the whole global batch — what a single process computes.
Outside a process group (or in evaluation mode) the layer is an ordinary ``BatchNorm``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["GlobalBatchNorm", "convert_batchnorm"]


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
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(x)
        shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
        dims = [0, *range(2, x.dim())]
        local = x.new_tensor([x.numel() / max(x.shape[1], 1)])
        totals = all_reduce(torch.cat([x.sum(dims), local]))
        n = totals[-1]
        mean = totals[:-1] / n
        var = all_reduce((x - mean.view(shape)).pow(2).sum(dims)) / n
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
