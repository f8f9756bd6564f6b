"""Training losses of autoencoders (the GIAE and its baselines), for :func:`quotient.train.fit`.

* :func:`model_loss` — ``model.loss(x, model(x))`` through a possibly DDP-wrapped model.
* :func:`autoencoder_loss` — the same on the batch's input (:func:`~quotient.train.batch_input`);
  a baseline's ``augment`` is applied with the loop's per-step generator (so a resumed run
  repeats it).
* :func:`consistency_loss` — the same plus an invariance penalty on transformed copies, taken
  over the global batch under ``torchrun``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..train import StepContext, batch_input

__all__ = ["autoencoder_loss", "categorical_nll", "consistency_loss", "element_mask",
           "masked_mse", "model_loss", "points_and_types_loss"]


def element_mask(x: Any) -> Tensor | None:
    """The real elements ``(B, n)`` of a padded input: the bool second part of ``(x, mask, ...)``
    or, for ``(x, types)``, ``types >= 0``; ``None`` for a plain tensor."""
    if not isinstance(x, (tuple, list)) or len(x) < 2:
        return None
    extra = x[1]
    return extra if extra.dtype == torch.bool else extra >= 0


def masked_mse(reconstruction: Tensor, x: Any) -> Tensor:
    """Mean squared error over the real elements of a padded input.

    ``x`` is a tensor (every entry counts) or a tuple ``(values (B, n, d), mask or types,
    ...)``: only real elements count, and only the first ``d`` channels of the reconstruction
    (a decoder may append more, e.g. type logits). The GIAE's default reconstruction loss."""
    if not isinstance(x, (tuple, list)):
        return torch.mean((reconstruction - x) ** 2)
    target, mask = x[0], element_mask(x)
    sq = (reconstruction[..., :target.shape[-1]] - target).pow(2).mean(-1)
    if mask is None:
        return sq.mean()
    m = mask.to(sq.dtype)
    return (sq * m).sum() / m.sum().clamp_min(1.0)


def points_and_types_loss(type_weight: float = 1.0) -> Callable[[Tensor, Any], Tensor]:
    """Loss for point clouds with element types (molecules): the masked coordinate MSE plus
    ``type_weight`` × the cross-entropy of the types, where the reconstruction is
    ``(B, n, d + T + 1)``: coordinates, then a distribution over the ``T`` types and "none"
    (padding slots must predict "none")."""
    def loss(reconstruction: Tensor, x: Any) -> Tensor:
        pos, types = x[0], x[-1]
        d = pos.shape[-1]
        coord = masked_mse(reconstruction[..., :d], (pos, types >= 0))
        none = reconstruction.shape[-1] - d - 1
        target = torch.where(types >= 0, types, torch.full_like(types, none))
        prob = reconstruction[..., d:].gather(-1, target[..., None].long())[..., 0]
        return coord + type_weight * -torch.log(prob.clamp_min(1e-9)).mean()
    return loss


def categorical_nll(reconstruction: Tensor, x: Tensor) -> Tensor:
    """Mean over elements of ``−Σ_k x_k log x̂_k``: one-hot (or probability) targets ``x`` and
    predicted distributions ``x̂`` along the last dimension."""
    return -(x * torch.log(reconstruction.clamp_min(1e-9))).sum(-1).mean()


def model_loss(model: nn.Module, x: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """``model.loss(x, out)`` with ``out = model(x)`` through the (possibly
    DistributedDataParallel-wrapped) model's forward, so DDP sees the forward pass."""
    out = model(x)
    base = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return base.loss(x, out)


def autoencoder_loss(net: nn.Module, batch: Mapping[str, Tensor],
                     ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
    """Mean reconstruction loss (plus a GIAE's weighted pose penalties) of the batch's input.

    A baseline with an ``augment(x, generator)`` attribute sees augmented batches, drawn from
    the loop's per-step generator (so a resumed run repeats them). The forward pass goes
    through ``net`` itself, so DistributedDataParallel sees it.
    """
    x = batch_input(batch)
    augment = getattr(getattr(net, "module", net), "augment", None)
    if augment is not None:
        x = augment(x, ctx.generator)
    return model_loss(net, x)


def consistency_loss(transform: Callable[[Tensor, torch.Generator], Tensor], weight: float,
                     fraction: float) -> Callable[..., tuple[Tensor, dict[str, float]]]:
    """A training loss that also asks the code to be invariant beyond the exact subgroup.

    A ``fraction`` of each batch is transformed by a random group element
    (``transform(x, generator)``, e.g. a rotation by a uniform angle) and appended to the
    batch, so the model reconstructs both (one forward pass, as DistributedDataParallel
    needs). With ``z`` the codes of the originals and ``z'`` of their transformed copies, the
    loss adds ``weight · mean‖z − z'‖² / mean‖z − z̄‖²`` (the spread over the originals of the
    batch): the squared invariance error in units of the spread of the codes, the quantity
    ``inv_err_any`` measures. The ratio does not change when ``z`` is scaled, so it cannot be
    lowered by shrinking the codes (with the spread held fixed, it was: the codes shrank
    fifty-fold and the kNN accuracy fell from 0.94 to 0.91); it is lowered by moving
    transformed copies together relative to different inputs. ``weight = 0`` gives
    :func:`autoencoder_loss`.

    Under ``torchrun`` the terms are those of the global batch (the turned copies are the first
    ``fraction`` of the global batch, the spread and the error are all-reduced), so W processes
    compute the loss and gradient of one; the angles are the single process's as long as the
    turned copies lie on rank 0 (``fraction ≤ 1/W``), otherwise other ranks draw their own.
    """
    if weight < 0 or not 0 < fraction <= 1:
        raise ValueError(f"need weight >= 0 and 0 < fraction <= 1, got {weight}, {fraction}")

    def loss_fn(net: nn.Module, batch: Mapping[str, Tensor],
                ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        if weight == 0:
            return autoencoder_loss(net, batch, ctx)
        x = batch_input(batch)
        n = x.shape[0]
        # the first m samples of the *global* batch get a turned copy; under torchrun this
        # rank holds global positions [rank·n, (rank + 1)·n)
        m_all = max(1, round(fraction * n * ctx.world_size))
        m = min(max(m_all - ctx.rank * n, 0), n)
        both = torch.cat([x, transform(x[:m], ctx.generator)]) if m else x
        out = net(both)
        loss, logs = getattr(net, "module", net).loss(both, out)
        z = out.z
        za, zb, originals = z[:m], z[n:], z[:n]
        if ctx.world_size == 1:
            spread = (originals - originals.mean(0)).pow(2).sum(1).mean()
            inv = (za - zb).pow(2).sum(1).mean() / spread.clamp_min(1e-12)
        else:
            scale, inv = _global_terms(both.shape[0], originals, za, zb, m_all, ctx.world_size)
            loss = loss * scale
            logs = {k: v * scale if k == "rec" else v for k, v in logs.items()}
        total = loss + weight * inv
        logs = dict(logs, inv=float(inv.detach()), loss=float(total.detach()))
        return total, logs

    return loss_fn


def _global_terms(rows: int, originals: Tensor, za: Tensor, zb: Tensor, m_all: int,
                  world_size: int) -> tuple[float, Tensor]:
    """What one rank needs for the loss of the whole global batch.

    Returns ``scale = W·rows / Σ rows``, the weight of this rank's mean reconstruction loss over
    its ``rows`` so that the ranks' mean (which DistributedDataParallel's gradient average
    takes) is the global mean, and the global invariance term: the spread of the codes and the
    error summed over all ranks with differentiable all-reduces (their backward sums the ranks'
    upstream gradients; the average then gives the gradient of the global term).
    """
    from ..train import all_reduce_sum as all_reduce

    # every rank holds n originals, and the m_all turned copies are spread over the ranks
    n_all = originals.shape[0] * world_size
    scale = world_size * rows / (n_all + m_all)
    mean = all_reduce(originals.sum(0)) / n_all
    spread = all_reduce((originals - mean).pow(2).sum()) / n_all
    inv = all_reduce((za - zb).pow(2).sum()) / m_all / spread.clamp_min(1e-12)
    return scale, inv
