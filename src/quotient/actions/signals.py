"""Cyclic shifts of 1-d signals ``(batch, channels, length)``: ``(k·x)[i] = x[i − k]``."""

from __future__ import annotations

import torch
from torch import Tensor

from ._core import Action, check_batch, check_ndim


def _roll(shift: Tensor, x: Tensor) -> Tensor:
    check_ndim(x, 3, "(batch, channels, length)", "roll_signal")
    check_batch(shift, x, "roll_signal")
    if shift.dim() != 1:
        raise ValueError(f"roll_signal needs integer shifts of shape (batch,), got {shift.shape}")
    n = x.shape[-1]
    idx = torch.remainder(torch.arange(n, device=x.device)[None, :] - shift[:, None].long(), n)
    return torch.gather(x, 2, idx[:, None, :].expand(-1, x.shape[1], -1))


roll_signal = Action("roll_signal", _roll, exact=True, groups=("Zn",),
                     note="cyclic shift along the last dim, like torch.roll")

__all__ = ["roll_signal"]
