"""Multisets of one-hot digits: the permutation-invariant (S_n) toy task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["DigitSets", "make_digit_sets"]


@dataclass(frozen=True)
class DigitSets:
    """Sets of digits, each element drawn independently and uniformly.

    Attributes:
        onehot: float32 (N, S, K), ``onehot[n, i] = e_{digits[n, i]}``.
        digits: int64 (N, S) in [0, K).
    """

    onehot: Tensor
    digits: Tensor

    def __len__(self) -> int:
        return int(self.digits.shape[0])


def make_digit_sets(
    n_sets: int, set_size: int = 20, n_classes: int = 10, *, seed: int = 0
) -> DigitSets:
    """Draw ``n_sets`` multisets of ``set_size`` digits from ``n_classes`` classes (i.i.d. uniform).

    The element order is random, so the data distribution is invariant under permuting elements.

    Returns:
        DigitSets with onehot float32 (n_sets, set_size, n_classes) and digits int64
        (n_sets, set_size).
    """
    for name, value, low in (("n_sets", n_sets, 0), ("set_size", set_size, 1),
                             ("n_classes", n_classes, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    digits = torch.randint(n_classes, (n_sets, set_size), generator=generator)
    onehot = torch.nn.functional.one_hot(digits, n_classes).to(torch.float32)
    return DigitSets(onehot=onehot, digits=digits)
