"""The permutation pose ξ for S_n: per-element scores -> a (relaxed) sorting permutation.

Given scores ``s ∈ ℝ^{B×n}`` from a permutation-equivariant network (``s(σ·x) = σ·s(x)``), the
canonical order sorts the elements by decreasing score: ``order = argsort(−s)`` and
``canonical[r] = x[order[r]]``. As an :class:`~quotient.groups.SymmetricGroup` element
(``g(i)`` = where element ``i`` goes) the pose is ``g = order``: it sends canonical slot ``r`` to
input slot ``order[r]``, so ``x = g·canonical`` and, for any ``σ``, ``g(σ·x) = σ∘g(x)``.

Matrices: ``S[r, j] = 1`` iff ``order[r] = j`` (the *sorting* matrix, ``canonical = S x``), and
``x = Sᵀ canonical``. :func:`soft_sort` relaxes ``S`` (SoftSort, Prillo & Eisenschlos 2020)::

    S̃[r, j] = softmax_j( −|s_(r) − s_j| / τ ),   s_(r) the r-th largest score,

a row-stochastic matrix that tends to ``S`` as ``τ → 0``. ``mode="straight_through"`` uses the
exact ``S`` forward and the gradient of ``S̃`` backward. ``sinkhorn_iters > 0`` additionally
alternates row and column normalisations of ``S̃`` in log space (a doubly-stochastic relaxation).

Regulariser (reference weight 1.0 for sets, 0.025 for point clouds): the mean row entropy plus
the mean column entropy (columns normalised) of ``S̃``; zero exactly for a permutation matrix.

Ties at evaluation: the hard sort is ``torch.sort(−s, stable=True)``: equal scores keep their
input order. No noise is added, so evaluation is deterministic. Tie-breaking by input position
is permutation-equivariant whenever tied elements are equal (e.g. repeated digits in a multiset:
any order of equal elements gives the same canonical set); ties between different elements make
the pose genuinely ambiguous (the input has a non-trivial stabiliser in practice only then).

Padding: ``mask (B, n)`` marks real elements; padded elements are placed after all real ones
(keeping their input order) and map one-to-one onto the padded slots, so padding never mixes
with real elements.

The same head serves sets, point clouds, molecules (atoms) and graphs (nodes):
:func:`unsort_rows` applies ``Sᵀ`` to features ``(B, n, ...)``, :func:`unsort_graph` applies it
on both sides of an adjacency ``(B, n, n)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..actions import compose_permutations, permute_set
from ..groups.symmetric import SymmetricGroup
from ..symmetry import Symmetry
from .pose import Pose, masked_order

Mode = Literal["soft", "straight_through", "hard"]

__all__ = [
    "PermutationPose",
    "hard_sort",
    "permutation_entropy",
    "sinkhorn",
    "soft_sort",
    "sort_rows",
    "unsort_graph",
    "unsort_rows",
]

_LOG_EPS = 1e-12


def _check_scores(scores: Tensor, mask: Tensor | None) -> Tensor:
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must have shape (batch, n_elements), got {shape}; "
                         "squeeze the trailing feature dimension of per-element scores")
    if scores.shape[1] == 0:
        raise ValueError("cannot sort empty sets (n_elements = 0); every set needs at least one "
                         "element")
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    elif mask.shape != scores.shape:
        raise ValueError(f"mask must have the shape of scores {tuple(scores.shape)}, got "
                         f"{tuple(mask.shape)}")
    mask = mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError("a set in the batch has no real element (its mask is all False); "
                         "drop empty sets before encoding")
    if not torch.isfinite(scores[mask]).all():
        raise ValueError("scores contain NaN or infinite values; check the inputs for NaN")
    return mask


def order_mismatch(a: Tensor, b: Tensor) -> Tensor:
    """1.0 where two orders ``(B, n)`` differ anywhere, else 0.0 (``(B,)``)."""
    return (a.long() != b.long()).any(dim=1).double()


def hard_sort(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """``order (B, n)``: indices of the elements by decreasing score, padding last.

    Deterministic: ties keep input order (stable sort). ``order`` is the S_n pose element.
    """
    mask = _check_scores(scores, mask)
    key = torch.where(mask, -scores, torch.zeros_like(scores))
    order = torch.sort(key, dim=1, stable=True).indices
    if bool(mask.all()):
        return order
    # second stable pass on the padding flag: real elements first, padding in input order
    pad = (~mask).gather(1, order).to(torch.int8)
    return order.gather(1, torch.sort(pad, dim=1, stable=True).indices)


def _order_matrix(order: Tensor, dtype: torch.dtype) -> Tensor:
    """``S[r, j] = 1`` iff ``order[r] = j``, shape ``(B, n, n)``."""
    b, n = order.shape
    out = torch.zeros(b, n, n, dtype=dtype, device=order.device)
    out.scatter_(2, order[:, :, None], 1.0)
    return out


def soft_sort(scores: Tensor, tau: float = 1.0,
              mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The SoftSort relaxation ``S̃`` and the hard ``order``.

    Returns:
        ``(S̃ (B, n, n), order (B, n))``; rows of ``S̃`` index canonical slots, columns input
        elements; each real row sums to one over the real columns; padded rows and columns are
        the exact (hard) assignment of padding to padding.
    """
    if not tau > 0:
        raise ValueError(f"SoftSort temperature tau must be positive, got {tau!r}")
    mask = _check_scores(scores, mask)
    order = hard_sort(scores, mask)
    sorted_s = torch.gather(scores, 1, order)  # s_(r)
    logits = -(sorted_s[:, :, None] - scores[:, None, :]).abs() / tau
    row_real = torch.gather(mask, 1, order)  # canonical slot r holds a real element
    col_ok = row_real[:, :, None] & mask[:, None, :]
    logits = logits.masked_fill(~col_ok, float("-inf"))
    # padded rows: give them a finite logit at their hard column so softmax is well defined
    hard = _order_matrix(order, scores.dtype)
    pad_rows = ~row_real
    if pad_rows.any():
        logits = torch.where(pad_rows[:, :, None] & (hard > 0), torch.zeros_like(logits), logits)
    return torch.softmax(logits, dim=2), order


def sinkhorn(matrix: Tensor, iters: int) -> Tensor:
    """Alternate column and row normalisation ``iters`` times (log space); rows last.

    ``matrix`` is a non-negative ``(B, n, n)`` relaxation; its zero entries (e.g. between real
    and padded elements) stay zero.
    """
    log = torch.log(matrix.clamp_min(_LOG_EPS))
    zero = matrix <= 0
    log = log.masked_fill(zero, float("-inf"))
    for _ in range(iters):
        log = log - torch.logsumexp(log, dim=1, keepdim=True)
        log = log - torch.logsumexp(log, dim=2, keepdim=True)
    return torch.exp(log)


def permutation_entropy(matrix: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean row entropy + mean column entropy of a relaxed permutation ``(B, n, n)``.

    Only real rows/columns count (``mask (B, n)`` marks real elements; the number of real rows
    equals the number of real columns). Columns are normalised to sum to one.
    """
    b, n, _ = matrix.shape
    if mask is None:
        mask = torch.ones(b, n, dtype=torch.bool, device=matrix.device)
    real = mask.to(matrix.dtype)
    k = real.sum(dim=1)  # real elements per set
    # rows: real rows are the first k slots (padding is sorted last)
    slot_real = (torch.arange(n, device=matrix.device)[None, :] < k[:, None]).to(matrix.dtype)
    p_row = matrix
    h_row = -(p_row * torch.log(p_row.clamp_min(_LOG_EPS))).sum(dim=2)
    col = matrix * slot_real[:, :, None]
    p_col = col / col.sum(dim=1, keepdim=True).clamp_min(_LOG_EPS)
    h_col = -(p_col * torch.log(p_col.clamp_min(_LOG_EPS))).sum(dim=1)
    rows = (h_row * slot_real).sum(dim=1) / k
    cols = (h_col * real).sum(dim=1) / k
    return (rows + cols).mean()


def sort_rows(matrix: Tensor, x: Tensor) -> Tensor:
    """``S x`` along dim 1: input order -> canonical order, for ``x (B, n, ...)``."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    return (matrix.to(flat.dtype) @ flat).reshape(x.shape)


def sort_parts(matrix: Tensor, x: Tensor | tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    """:func:`sort_rows` of a tensor or of every part of a tuple such as ``(x, mask)`` (a bool
    mask is sorted as 0/1 and stays bool; integer parts stay integers)."""
    if isinstance(x, tuple):
        return tuple(sort_parts(matrix, part) for part in x)
    if x.is_floating_point():
        return sort_rows(matrix, x)
    return sort_rows(matrix, x.to(matrix.dtype)).round().to(x.dtype)


def unsort_rows(matrix: Tensor, canonical: Tensor) -> Tensor:
    """``Sᵀ canonical`` along dim 1: canonical order -> input order, ``(B, n, ...)``."""
    if canonical.dim() < 2 or canonical.shape[1] != matrix.shape[-1]:
        raise ValueError(
            f"the decoder makes sets of {canonical.shape[1] if canonical.dim() > 1 else '?'} "
            f"elements but the input has {matrix.shape[-1]}; build the model for "
            f"n={matrix.shape[-1]} (sets of different sizes: pad them to the largest and pass a "
            "mask)")
    flat = canonical.reshape(canonical.shape[0], canonical.shape[1], -1)
    return (matrix.transpose(1, 2).to(flat.dtype) @ flat).reshape(canonical.shape)


def unsort_graph(matrix: Tensor, canonical: Tensor) -> Tensor:
    """``Sᵀ A S`` for a canonical adjacency (or any pairwise array) ``A (B, n, n, ...)``."""
    s = matrix.to(canonical.dtype)
    if canonical.dim() == 3:
        return s.transpose(1, 2) @ canonical @ s
    return torch.einsum("bri,brs...,bsj->bij...", s, canonical, s)


class PermutationPose(nn.Module):
    """ξ for S_n: per-element scores ``(B, n)`` (and an optional mask) -> :class:`Pose`.

    Args:
        tau: SoftSort temperature τ.
        mode: relaxation used in training: ``"soft"`` (S̃), ``"straight_through"`` (exact S
            forward, S̃ gradient) or ``"hard"`` (exact S, no gradient to the scores).
        hard_at_eval: in ``eval()`` mode use the exact S (deterministic ties, see module doc).
        sinkhorn_iters: Sinkhorn normalisations applied to S̃ (0: plain SoftSort).

    The pose has ``element = order`` (an S_n index tensor), ``apply = unsort_rows(S, ·)``
    (works for any per-element canonical ``(B, n, ...)``), ``penalties = {"perm_entropy": ...}``
    with ``matrix`` (the S used) and ``relaxed`` (S̃).
    """

    def __init__(self, tau: float = 1.0, mode: Mode = "soft", hard_at_eval: bool = True,
                 sinkhorn_iters: int = 0) -> None:
        super().__init__()
        if mode not in ("soft", "straight_through", "hard"):
            raise ValueError(f"mode must be 'soft', 'straight_through' or 'hard', got {mode!r}")
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau!r}")
        self.tau, self.mode, self.hard_at_eval = float(tau), mode, hard_at_eval
        self.sinkhorn_iters = int(sinkhorn_iters)

    def matrices(self, scores: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(S used for reconstruction, S̃ relaxed, order)``."""
        relaxed, order = soft_sort(scores, self.tau, mask)
        if self.sinkhorn_iters > 0:
            relaxed = sinkhorn(relaxed, self.sinkhorn_iters)
        hard = _order_matrix(order, scores.dtype)
        use_hard = (not self.training and self.hard_at_eval) or self.mode == "hard"
        if use_hard:
            used = hard
        elif self.mode == "straight_through":
            used = hard + relaxed - relaxed.detach()
        else:
            used = relaxed
        return used, relaxed, order

    symmetry = Symmetry(lambda s: SymmetricGroup((s[0] if isinstance(s, tuple) else s).shape[1]),
                        permute_set, output=compose_permutations,
                        observe=lambda p: masked_order(p.element, p.mask),
                        note="exact: reordering the scores reorders the sort, σ·order = σ∘order",
                        measure=lambda a, b: {"order": order_mismatch(a, b)})

    def forward(self, scores: Tensor | tuple[Tensor, Tensor] | object,
                mask: Tensor | None = None) -> Pose:
        """``scores (B, n)``, or a ``(scores, mask)`` tuple, or any object with ``.scores`` and
        ``.mask`` attributes (e.g. :class:`~quotient.nn.sets.SetFeatures`)."""
        if isinstance(scores, tuple):
            scores, mask = scores
        elif not isinstance(scores, Tensor) and hasattr(scores, "scores"):
            scores, mask = scores.scores, getattr(scores, "mask", mask)  # type: ignore[union-attr]
        used, relaxed, order = self.matrices(scores, mask)  # type: ignore[arg-type]
        return Pose(element=order, apply=lambda canonical: unsort_rows(used, canonical),
                    penalties={"perm_entropy": permutation_entropy(relaxed, mask)},
                    matrix=used, relaxed=relaxed, mask=mask,
                    invert=lambda x: sort_parts(used, x))

    def group(self, n: int) -> SymmetricGroup:
        """The group the pose lives in, for ``n`` elements."""
        return SymmetricGroup(n)
