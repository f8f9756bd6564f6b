"""Representations the layers of a network need, built on :mod:`quotient.groups`.

* :func:`grid_representation` — the permutation representation of an exact image action (rot90,
  dihedral, roll) on an ``h × w`` grid, ``ρ(g) vec(x) = vec(g·x)``; it acts on convolution
  kernels (``k × k``) and on flattened feature maps.
* :func:`copies` — ``c`` copies of a representation, ``I_c ⊗ ρ`` (channel-major).
* :func:`identity_representation` — ``c`` trivial channels.
* :func:`channel_image_action` — the action on feature maps ``(batch, C, H, W)``: move pixels
  with a spatial action and mix channels with ``ρ_ch(g)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..actions import Action
from ..groups import Element, Group, Representation, batch_size, repeat_element, tensor
from ._errors import SubspaceError


def _lie_count(group: Group) -> int:
    return int(group.lie_algebra("trivial").shape[0])


def identity_representation(group: Group, c: int) -> Representation:
    """``c`` trivial channels: ``ρ(g) = I_c``."""
    if c < 1:
        raise SubspaceError(f"need at least one channel, got {c}")
    k = _lie_count(group)
    return Representation(
        group, c, f"trivial^{c}",
        lambda g: torch.eye(c, dtype=torch.float64).expand(batch_size(g), c, c).clone(),
        lambda: torch.zeros(k, c, c, dtype=torch.float64))


def copies(rep: Representation, c: int) -> Representation:
    """``c`` copies of ``rep`` as ``I_c ⊗ ρ``: index ``copy · d + i``."""
    if c == 1:
        return rep
    return tensor(identity_representation(rep.group, c), rep)


def grid_representation(group: Group, action: Action, h: int, w: int | None = None) -> \
        Representation:
    """The permutation representation of ``action`` on an ``h × w`` grid.

    Column ``p`` of ``ρ(g)`` is ``vec(action(g, e_p))`` (row-major pixels), so
    ``ρ(g) vec(x) = vec(action(g, x))`` for one-channel images ``x``.

    Raises:
        SubspaceError: the action is approximate (not a permutation of pixels), or its matrices
            are not permutations on this grid.
    """
    w = h if w is None else w
    if not action.exact:
        raise SubspaceError(f"{action.name} is approximate; only exact (pixel-permuting) actions "
                            "give a grid representation")
    n = h * w
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, h, w)

    def matrices(g: Element) -> Tensor:
        b = batch_size(g)
        if b == 0:
            return torch.zeros(0, n, n, dtype=torch.float64)
        moved = action(repeat_element(g, n), basis.repeat(b, 1, 1, 1))
        cols = moved.reshape(b, n, n).to(torch.float64)  # (b, p, pixel) = action(g, e_p)
        return cols.transpose(1, 2).contiguous()

    test = matrices(group.discrete_generators())
    if test.shape[0] and not bool(((test == 0) | (test == 1)).all()):
        raise SubspaceError(f"{action.name} does not permute the pixels of a {h}x{w} grid")
    k = _lie_count(group)
    return Representation(group, n, f"grid{h}x{w}[{action.name}]", matrices,
                          lambda: torch.zeros(k, n, n, dtype=torch.float64))


def channel_image_action(channel_rep: Representation, spatial: Action) -> Action:
    """The action on feature maps ``(batch, C, H, W)``: ``x ↦ ρ_ch(g) · spatial(g, x)``.

    ``C`` must equal ``channel_rep.dim``; trivial channel representations reduce it to
    ``spatial``.
    """

    def act(g: Element, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != channel_rep.dim:
            raise SubspaceError(f"expected feature maps (batch, {channel_rep.dim}, H, W), got "
                                f"{tuple(x.shape)}")
        moved = spatial(g, x)
        mats = channel_rep(g).to(x.dtype)
        return torch.einsum("bij,bjhw->bihw", mats, moved)

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
