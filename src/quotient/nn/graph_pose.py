"""The permutation pose ξ for graphs: individualisation–refinement on top of SoftSort.

Sorting nodes once by equivariant scores ``s`` is not enough for graphs. Automorphic nodes
always tie (``s(π·A) = π·s(A)`` and ``π·A = A``), and breaking several ties independently can
give *different* canonical adjacencies: in the path a–b–c–d the orbits {a, d} and {b, c} both
tie, and the orders (a, d, b, c) and (a, d, c, b) put the edge a–b at different positions.
Canonical-labelling algorithms fix this by individualising one node at a time; so does this head:

    for t = 0, …, n_real − 1:
        s⁽ᵗ⁾ = scores(A, marks of j₀, …, j_{t−1})            (equivariant in graph and marks)
        j_t  = argmax of s⁽ᵗ⁾ over the real nodes not chosen yet (first index on exact ties)
        row t of S̃ = first row of SoftSort(s⁽ᵗ⁾) over those nodes = softmax_j(s⁽ᵗ⁾_j / τ)

then the padded slots in input order. ``S[t, j] = 1`` iff ``j = j_t`` is the sorting matrix of
:mod:`quotient.nn.pose_perm` (canonical ``= S A Sᵀ``, reconstruction ``Sᵀ Â S``), and the pose
element is ``order = (j₀, …, j_{n−1})``, an S_n index tensor with ``A = order · Â``.

Why this is canonical: if ``j`` and ``j'`` tie because an automorphism π of the graph that fixes
the already chosen nodes maps ``j`` to ``j'``, every later step of the run that picks ``j'`` is the
π-image of the run that picks ``j``, so both end with the same canonical adjacency. The scores only
need to separate nodes that are *not* related by such an automorphism — which the second-order
encoder of :mod:`quotient.nn.graphs` does for all 1,253 graphs with up to seven nodes (tested).

The relaxation (SoftSort rows, straight-through hard forward), the entropy penalty and the graph
unsorting are those of :mod:`quotient.nn.pose_perm`; this module only adds the sequential,
masked individualisation loop.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import compose_permutations
from ..groups.symmetric import SymmetricGroup
from ..symmetry import Symmetry
from .graphs import GraphFeatures, graph_features_action
from .pose import Pose, masked_order
from .pose_perm import (
    PermutationPose,
    order_mismatch,
    permutation_entropy,
    soft_sort,
    sort_parts,
    unsort_graph,
)


def sort_graph(matrix: Any, x: Any) -> Any:
    """``S A Sᵀ`` (canonical order) for adjacency ``A (B, n, n)``, or ``(A, mask, ...)`` with
    the other parts sorted as sets."""
    if isinstance(x, tuple):
        return (sort_graph(matrix, x[0]), *sort_parts(matrix, tuple(x[1:])))
    return unsort_graph(matrix.transpose(1, 2), x)

__all__ = ["GraphPermutationPose", "individualize"]

Mode = Literal["soft", "straight_through", "hard"]


def _onehot(index: Tensor, n: int, dtype: torch.dtype) -> Tensor:
    return torch.nn.functional.one_hot(index, n).to(dtype)


def individualize(features: GraphFeatures, tau: float = 1.0) -> tuple[Tensor, Tensor]:
    """Run individualisation–refinement; returns ``(S̃ relaxed (B, n, n), order (B, n))``.

    Rows of ``S̃`` are canonical slots (real nodes first), columns input nodes. Real rows are
    SoftSort rows; padded rows are exact one-hot rows (no gradient).
    """
    mask = features.mask
    b, n = mask.shape
    dtype = features.edge.dtype
    chosen = torch.zeros(b, n, dtype=torch.bool, device=mask.device)
    last = torch.zeros_like(chosen)
    rank = torch.zeros(b, n, dtype=torch.long, device=mask.device)
    index = torch.arange(n, device=mask.device).expand(b, n)
    rows, order = [], []
    for t in range(n):
        avail = mask & ~chosen
        live = avail.any(dim=1)
        pad_pick = torch.where(~mask & ~chosen, -index, index.new_full((), -n)).argmax(dim=1)
        if live.any():
            scores = features.scores(chosen, rank, last)
            safe = torch.where(live[:, None], avail, torch.ones_like(avail))
            relaxed, sorted_idx = soft_sort(scores, tau, safe)
            pick = torch.where(live, sorted_idx[:, 0], pad_pick)
            row = torch.where(live[:, None], relaxed[:, 0], _onehot(pick, n, dtype))
        else:
            pick = pad_pick
            row = _onehot(pick, n, dtype)
        rows.append(row)
        order.append(pick)
        last = _onehot(pick, n, torch.long).bool()
        rank = torch.where(last, t, rank)
        chosen = chosen | last
    return torch.stack(rows, dim=1), torch.stack(order, dim=1)


class GraphPermutationPose(nn.Module):
    """ξ for graphs: :class:`~quotient.nn.graphs.GraphFeatures` -> :class:`Pose`.

    Args:
        tau: SoftSort temperature τ.
        mode: ``"straight_through"`` (exact permutation forward, SoftSort gradient), ``"soft"``
            or ``"hard"``; see :class:`~quotient.nn.pose_perm.PermutationPose`.
        method: ``"individualize"`` (sequential, canonical; default) or ``"sort"`` (one
            SoftSort of the unmarked scores — fast, but automorphic ties are broken by input
            position, so graphs with symmetries get inconsistent canonical forms; an ablation).

    The pose has ``element = order`` (B, n), ``apply(Â) = Sᵀ Â S`` (a canonical adjacency or
    pairwise array (B, n, n, ...)), ``penalties = {"perm_entropy": ...}`` (mean row + column
    entropy of S̃ over real nodes), and ``matrix`` (the S used). In ``eval()``
    mode S is always the exact permutation and nothing is random.
    """

    def __init__(self, tau: float = 1.0, mode: Mode = "straight_through",
                 method: Literal["individualize", "sort"] = "individualize") -> None:
        super().__init__()
        if method not in ("individualize", "sort"):
            raise ValueError(f"method must be 'individualize' or 'sort', got {method!r}")
        self._sorter = PermutationPose(tau=tau, mode=mode, hard_at_eval=True)
        self.method = method

    @property
    def tau(self) -> float:
        return self._sorter.tau

    def matrices(self, features: GraphFeatures) -> tuple[Tensor, Tensor, Tensor]:
        """``(S used for reconstruction, S̃ relaxed, order)``."""
        mask = features.mask
        if self.method == "sort":
            scores = features.scores()
            empty = ~mask.any(dim=1, keepdim=True)
            return self._sorter.matrices(scores, mask | empty)
        relaxed, order = individualize(features, self.tau)
        hard = _onehot(order, mask.shape[1], relaxed.dtype)
        mode = self._sorter.mode
        if (not self.training) or mode == "hard":
            return hard, relaxed, order
        if mode == "straight_through":
            return hard + (relaxed - relaxed.detach()), relaxed, order  # exactly hard forward
        return relaxed, relaxed, order

    symmetry = Symmetry(lambda f: SymmetricGroup(f.mask.shape[1]), graph_features_action,
                        output=compose_permutations,
                        observe=lambda p: masked_order(p.element, p.mask),
                        note="exact for graphs without automorphisms: relabelling the nodes "
                             "composes the canonical order",
                        measure=lambda a, b: {"order": order_mismatch(a, b)})

    def forward(self, features: Any) -> Pose:
        if not isinstance(features, GraphFeatures):
            raise TypeError("GraphPermutationPose needs the GraphFeatures of a GraphEncoder, got "
                            f"{type(features).__name__}")
        used, relaxed, order = self.matrices(features)
        mask = features.mask
        count = mask.sum(dim=1)
        keep = count > 0
        if keep.any():
            penalty = permutation_entropy(relaxed[keep], mask[keep])
        else:
            penalty = relaxed.new_zeros(())
        return Pose(element=order, apply=lambda canonical: unsort_graph(used, canonical),
                    penalties={"perm_entropy": penalty}, matrix=used, mask=mask,
                    invert=lambda x: sort_graph(used, x))

    def group(self, n: int) -> SymmetricGroup:
        """The group the pose lives in, for ``n`` nodes."""
        return SymmetricGroup(n)
