"""Representations the layers of a network need, built on :mod:`quotient.groups`.

* :func:`spatial_representation` / :func:`grid_representation` — the permutation
  representation of an exact action on the cells of a 1-d or 2-d grid (rot90, flips, reversal,
  roll), ``ρ(g) vec(x) = vec(g·x)`` (row-major cells); it acts on convolution kernels and on
  flattened feature maps.
* :func:`copies` — ``c`` copies of a representation, ``I_c ⊗ ρ``: index ``copy · d + i``
  (copy-major, the order of torch's channels when each copy is one block of ``d`` channels).
* :func:`identity_representation` (= :func:`trivial_representation`) — ``c`` trivial channels.
* re-exported from :mod:`quotient.groups.representations`: representations from matrices, from
  generators or from a function, the textbook standard representation of ``S_n``
  (``n − 1``-dimensional) and the permutation representations of ``S_n``, ``C_n``, ``D_n``.
* :func:`channel_image_action` — the action on feature maps ``(batch, C, H, W)``: move pixels
  with a spatial action and mix channels with ``ρ_ch(g)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..actions import Action
from ..groups import Element, Group, Representation, batch_size, repeat_element, tensor
from ..groups.representations import (
    permutation_representation,
    representation_from_function,
    representation_from_generators,
    representation_from_matrices,
    standard_representation,
)
from ._errors import SubspaceError

__all__ = [
    "channel_image_action", "copies", "grid_representation", "identity_representation",
    "permutation_representation", "representation_action", "representation_from_function",
    "representation_from_generators", "representation_from_matrices", "spatial_representation",
    "standard_representation", "trivial_representation",
]


def _lie_count(group: Group) -> int:
    return int(group.lie_algebra("trivial").shape[0])


def identity_representation(group: Group, c: int) -> Representation:
    """``c`` trivial channels: ``ρ(g) = I_c`` (``c`` copies of the trivial representation; also
    available as :func:`trivial_representation`)."""
    if c < 1:
        raise SubspaceError(f"need at least one channel, got {c}")
    k = _lie_count(group)
    return Representation(
        group, c, f"trivial^{c}",
        lambda g: torch.eye(c, dtype=torch.float64).expand(batch_size(g), c, c).clone(),
        lambda: torch.zeros(k, c, c, dtype=torch.float64))


def trivial_representation(group: Group, c: int = 1) -> Representation:
    """``c`` copies of the trivial representation, ``ρ(g) = I_c``."""
    return identity_representation(group, c)


def copies(rep: Representation, c: int) -> Representation:
    """``c`` copies of ``rep`` as ``I_c ⊗ ρ``: index ``copy · d + i``."""
    if c == 1:
        return rep
    return tensor(identity_representation(rep.group, c), rep)


def spatial_representation(group: Group, action: Action, shape: Sequence[int]) -> Representation:
    """The permutation representation of an exact action on the cells of a grid.

    ``shape`` is ``(L,)`` for signals ``(batch, C, L)`` or ``(H, W)`` for images
    ``(batch, C, H, W)``. Column ``p`` of ``ρ(g)`` is ``vec(action(g, e_p))`` (row-major cells),
    so ``ρ(g) vec(x) = vec(action(g, x))`` for one-channel ``x``.

    Raises:
        SubspaceError: the action is approximate, fails on this grid, changes its shape (rot90
            on a non-square grid), or does not permute its cells.
    """
    shape = tuple(int(v) for v in shape)
    if not action.exact:
        raise SubspaceError(f"{action.name} is approximate; only exact (cell-permuting) actions "
                            "give a grid representation")
    if len(shape) not in (1, 2) or min(shape) < 1:
        raise SubspaceError(f"grid shape must be (L,) or (H, W) with positive sizes, got {shape}")
    n = math.prod(shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, *shape)
    label = "x".join(map(str, shape))

    def matrices(g: Element) -> Tensor:
        b = batch_size(g)
        if b == 0:
            return torch.zeros(0, n, n, dtype=torch.float64)
        try:
            moved = action(repeat_element(g, n), basis.repeat(b, *([1] * (len(shape) + 1))))
        except (ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise SubspaceError(f"{action.name} cannot act on a {label} grid of {group.name} "
                                f"(rotations need square grids): {exc}") from exc
        if tuple(moved.shape[2:]) != shape:
            raise SubspaceError(f"{action.name} maps a {label} grid to a "
                                f"{'x'.join(map(str, moved.shape[2:]))} one (rotations need "
                                "square grids)")
        cols = moved.reshape(b, n, n).to(torch.float64)  # (b, p, cell) = action(g, e_p)
        return cols.transpose(1, 2).contiguous()

    test = matrices(group.discrete_generators())
    if test.shape[0] and not (bool(((test == 0) | (test == 1)).all())
                              and bool((test.sum(1) == 1).all())):
        raise SubspaceError(f"{action.name} does not permute the cells of a {label} grid")
    k = _lie_count(group)
    return Representation(group, n, f"grid{label}[{action.name}]", matrices,
                          lambda: torch.zeros(k, n, n, dtype=torch.float64))


def grid_representation(group: Group, action: Action, h: int, w: int | None = None) -> \
        Representation:
    """The permutation representation of ``action`` on an ``h × w`` grid (images; see
    :func:`spatial_representation`): ``ρ(g) vec(x) = vec(action(g, x))``, row-major pixels.

    Raises:
        SubspaceError: the action is approximate (not a permutation of pixels), or its matrices
            are not permutations on this grid.
    """
    return spatial_representation(group, action, (h, h if w is None else w))


def channel_image_action(channel_rep: Representation, spatial: Action) -> Action:
    """The action on feature maps ``(batch, C, *grid)`` (images or signals):
    ``x ↦ ρ_ch(g) · spatial(g, x)``.

    ``C`` must equal ``channel_rep.dim``; trivial channel representations reduce it to
    ``spatial``.
    """

    def act(g: Element, x: Tensor) -> Tensor:
        if x.dim() < 3 or x.shape[1] != channel_rep.dim:
            raise SubspaceError(f"expected feature maps (batch, {channel_rep.dim}, ...), got "
                                f"{tuple(x.shape)}")
        moved = spatial(g, x)
        mats = channel_rep(g).to(x.dtype)
        return torch.einsum("bij,bj...->bi...", mats, moved)

    return Action(f"{spatial.name}+{channel_rep.name}", act, exact=spatial.exact,
                  groups=spatial.groups, note="spatial action, then the channel representation")


def representation_action(rep: Representation) -> Action:
    """The linear action on vectors ``(batch, d)``: ``x ↦ ρ(g) x``."""

    def act(g: Element, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != rep.dim:
            raise SubspaceError(f"expected vectors (batch, {rep.dim}), got {tuple(x.shape)}")
        return torch.einsum("bij,bj->bi", rep(g).to(x.dtype), x)

    return Action(f"linear[{rep.name}]", act, exact=True, groups=(rep.group.name,),
                  note="matrix-vector product with the representation")
