"""Actions on 1-d signals ``(batch, channels, length)``: cyclic shifts ``(k·x)[i] = x[i − k]``
and reversal ``x[i] ↦ x[L − 1 − i]`` (C2)."""

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


def _reverse(k: Tensor, x: Tensor) -> Tensor:
    check_ndim(x, 3, "(batch, channels, length)", "reverse_signal")
    check_batch(k, x, "reverse_signal")
    odd = (k.long().reshape(-1) % 2) == 1
    out = x.clone()
    out[odd] = torch.flip(x[odd], dims=(-1,))
    return out


roll_signal = Action("roll_signal", _roll, exact=True, groups=("Zn",),
                     note="cyclic shift along the last dim, like torch.roll")
"""The exact action ``roll_signal`` (for Zn): cyclic shift along the last dim, like torch.roll."""
reverse_signal = Action("reverse_signal", _reverse, exact=True, groups=("C2",),
                        note="odd elements reverse the last dimension (x[i] -> x[L-1-i])")
"""The exact action ``reverse_signal`` (for C2): odd elements reverse the last dimension (x[i]
-> x[L-1-i])."""

__all__ = ["reverse_signal", "roll_signal"]
