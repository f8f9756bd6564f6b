"""Shift-equivariant blocks for periodic 1-d signals ``(batch, channels, length)``.

Circular convolutions commute with cyclic shifts exactly, ``conv(roll(x, k)) = roll(conv(x), k)``
(the same products and sums, permuted), so everything here is exactly equivariant under integer
shifts (:func:`~quotient.actions.roll_signal`), up to rounding.

* :class:`CircularEncoder` — the GIAE signal encoder ``x -> (z, y)``: ``z`` invariant (pooled over
  positions, then an MLP), ``y (B, L)`` a shift-equivariant score map from which
  :class:`~quotient.nn.pose_so2.ShiftPoseHead` reads the shift.
* :class:`MLPEncoder`, :class:`MLPDecoder` — plain networks (baselines and the GIAE decoder).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..actions import Action, roll_signal
from ..actions._core import check_batch
from ..groups import CyclicShifts
from ..symmetry import Symmetry

__all__ = ["CircularEncoder", "MLPDecoder", "MLPEncoder", "check_signals", "roll_map"]


def check_signals(x: Tensor, channels: int, length: int | None, what: str) -> None:
    """Raise ``ValueError`` naming the problem and the fix for signals a model cannot take.

    Expected: floating point, finite, shape ``(batch, channels, length)``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor of signals, got {type(x).__name__}")
    if x.dim() != 3:
        hint = " (add a channel axis with x.unsqueeze(1))" if x.dim() == 2 else ""
        raise ValueError(f"{what}: expected signals of shape (batch, {channels}, length), got "
                         f"{tuple(x.shape)}{hint}")
    if x.shape[1] != channels:
        raise ValueError(f"{what}: expected {channels} channel(s), got {x.shape[1]} in shape "
                         f"{tuple(x.shape)}; build the model with in_channels={x.shape[1]}")
    if length is not None and x.shape[2] != length:
        raise ValueError(f"{what}: built for signals of length {length}, got {x.shape[2]}; "
                         f"resample them or build the model with length={x.shape[2]}")
    if not x.is_floating_point():
        raise ValueError(f"{what}: expected floating-point signals, got {x.dtype}; convert with "
                         "x.float()")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: the signals contain NaN or infinite values; clean or drop "
                         "those samples first")


def _roll_map(k: Tensor, y: Tensor) -> Tensor:
    if y.dim() != 2:
        raise ValueError(f"roll_map: expected maps (batch, length), got {tuple(y.shape)}")
    check_batch(k, y, "roll_map")
    return roll_signal(k, y[:, None, :])[:, 0]


roll_map = Action("roll_map", _roll_map, exact=True, groups=("Zn",),
                  note="cyclic shift of single-channel maps (batch, length)")
"""The exact action ``roll_map`` (for Zn): cyclic shift of single-channel maps (batch, length)."""


def _shifts_of_input(x: Tensor) -> CyclicShifts:
    return CyclicShifts(x.shape[-1])


class CircularEncoder(nn.Module):
    """``x (B, C, L) -> (z (B, latent_dim), y (B, L))`` with circular 1-d convolutions.

    ``len(widths)`` conv layers (kernel ``kernel_size``, circular padding, SiLU, no striding, so
    the resolution stays ``L``); features ``f (B, w, L)``;
    ``z = MLP([mean_t f, max_t f])`` (invariant), ``y = conv1×1(f)`` (equivariant).
    """


    def __init__(self, in_channels: int = 1, latent_dim: int = 16,
                 widths: tuple[int, ...] = (32, 32, 32), kernel_size: int = 5,
                 length: int | None = 64, hidden: int = 128) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.in_channels, self.latent_dim, self.length = in_channels, latent_dim, length
        group = CyclicShifts(length) if length is not None else _shifts_of_input
        self.symmetry = Symmetry(group, roll_signal, output=(None, roll_map),
                                 note="exact under integer shifts: z invariant, y shifts along")
        layers: list[nn.Module] = []
        prev = in_channels
        for w in widths:
            layers += [nn.Conv1d(prev, w, kernel_size, padding=kernel_size // 2,
                                 padding_mode="circular"), nn.SiLU()]
            prev = w
        self.net = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * prev, hidden), nn.SiLU(),
                                  nn.Linear(hidden, latent_dim))
        self.score = nn.Conv1d(prev, 1, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_signals(x, self.in_channels, self.length, type(self).__name__)
        f = self.net(x)
        z = self.head(torch.cat([f.mean(-1), f.amax(-1)], -1))
        return z, self.score(f)[:, 0]

    def encode(self, x: Tensor) -> Tensor:
        """Only the invariant code ``z``."""
        return self(x)[0]


class MLPEncoder(nn.Module):
    """A plain encoder for signals (no symmetry): flatten, two hidden layers, ``z``."""

    def __init__(self, in_channels: int = 1, length: int = 64, latent_dim: int = 16,
                 hidden: int = 256) -> None:
        super().__init__()
        self.in_channels, self.length, self.latent_dim = in_channels, length, latent_dim
        self.net = nn.Sequential(nn.Linear(in_channels * length, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, latent_dim))

    def forward(self, x: Tensor) -> Tensor:
        check_signals(x, self.in_channels, self.length, type(self).__name__)
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """``z (B, latent_dim) -> signals (B, C, L)``: two hidden layers, linear output."""

    def __init__(self, latent_dim: int = 16, out_channels: int = 1, length: int = 64,
                 hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim, self.out_channels, self.length = latent_dim, out_channels, length
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, out_channels * length))

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"MLPDecoder: expected codes (batch, {self.latent_dim}), got "
                             f"{tuple(z.shape)}")
        return self.net(z).view(z.shape[0], self.out_channels, self.length)

