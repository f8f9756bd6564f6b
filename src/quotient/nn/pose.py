"""The pose ψ(x) = ξ(μ(x)) of a group-invariant autoencoder: a group element per sample and how
to apply it to a canonical reconstruction.

Pose heads (ξ) live next to this module, one per group: :mod:`.pose_so2` (SO(2) angles, cyclic
shifts), :mod:`.pose_perm` (S_n by sorting), :mod:`.pose_rigid` (rigid motions × S_n) and
:mod:`.graph_pose` (S_n on graphs). Each declares its :class:`~quotient.symmetry.Symmetry`:
``ξ(g·y) = g ∘ ξ(y)`` (left multiplication on the group).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["Pose", "PoseHead", "masked_order", "masked_rows"]


def masked_order(order: Tensor, mask: Tensor | None) -> Tensor:
    """``order (B, n)`` with the canonical slots of padding set to −1: among padded
    elements any order is as good, so only the real slots are compared."""
    if mask is None:
        return order
    k = mask.sum(dim=1, keepdim=True)
    return torch.where(torch.arange(order.shape[1], device=order.device)[None, :] < k, order,
                       torch.full_like(order, -1))


def masked_rows(x: Tensor, mask: Tensor | None, pairs: bool = False) -> Tensor:
    """``x (B, n, ...)`` with the rows of padded elements zeroed (and, with ``pairs``, the
    columns too, for ``(B, n, n, ...)`` arrays)."""
    if mask is None:
        return x
    m = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.dim() - 2)))
    out = x * m
    if pairs:
        out = out * mask.to(x.dtype)[:, None, :].reshape(
            mask.shape[0], 1, mask.shape[1], *([1] * (x.dim() - 3)))
    return out


@dataclass
class Pose:
    """A predicted group element and how to apply it to a canonical reconstruction.

    Attributes:
        element: the (hard) group element per sample, in the group's tensor encoding — used
            for evaluation (pose equivariance, canonicalisation) and by the checker, which
            compares poses by their elements.
        apply: ``apply(canonical) -> reconstruction``; may use a relaxed (soft) element during
            training, e.g. a SoftSort matrix for permutations.
        penalties: named regularisers (scalars), e.g. the SoftSort entropy ``"perm_entropy"``.
        matrix: for poses with a permutation part, the sorting matrix ``S`` (``(B, n, n)``,
            input order -> canonical order) that ``apply`` uses (hard, straight-through or
            soft).
        relaxed: the relaxed matrix ``S̃`` behind ``matrix`` (SoftSort), if any.
        frame: for rigid poses, the encoder's frame ``R₀`` (``(B, d, d)``) before any
            refinement.
        mask: for padded inputs, the real elements in input order ``(B, n)`` (the pose orders
            them first; padding is "don't care" for the checker).
        invert: ``x -> ψ(x)⁻¹·x``, the input put into canonical pose (the inverse of
            ``apply`` on inputs): exactly invariant on the exact group, so a downstream model
            fed with it is invariant too.
        refine: optional closed-form refinement given the decoded canonical element,
            ``refine(canonical) -> Pose`` (e.g. a Procrustes rotation that aligns the canonical
            to the input); :meth:`~quotient.models.GIAE.forward` applies it before ``apply``.
            It must keep the pose equivariant (it sees the input only through equivariant
            features).
    """

    element: Any
    apply: Callable[[Any], Any]
    penalties: dict[str, Tensor] = field(default_factory=dict)
    matrix: Tensor | None = None
    relaxed: Tensor | None = None
    frame: Tensor | None = None
    mask: Tensor | None = None
    invert: Callable[[Any], Any] | None = None
    refine: Callable[[Any], Pose] | None = None

    def replace(self, **changes: Any) -> Pose:
        """A copy with some fields changed."""
        return replace(self, **changes)


class PoseHead(Protocol):
    """ξ: equivariant features ``y`` -> :class:`Pose`. Fixed (closed form) or lightly learned."""

    def __call__(self, features: Any) -> Pose: ...
