"""The symmetric group S_n. An element is an index tensor ``σ`` of shape ``(batch, n)`` (int64)
with ``σ[i] = σ(i)``.

Conventions: ``(στ)(i) = σ(τ(i))``; the permutation matrix has ``P_σ[σ(i), i] = 1`` so that
``(P_σ x)[j] = x[σ⁻¹(j)]`` (element ``i`` moves to slot ``σ(i)``) and ``P_{στ} = P_σ P_τ``.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, FiniteGroup, _check_batch

MAX_ENUMERABLE = 8


def permutation_matrix(perm: Tensor, dtype: torch.dtype = DEFAULT_DTYPE) -> Tensor:
    """``P[σ(i), i] = 1`` for ``perm`` of shape ``(batch, n)`` -> ``(batch, n, n)``."""
    b, n = perm.shape
    out = torch.zeros(b, n, n, dtype=dtype, device=perm.device)
    out.scatter_(1, perm[:, None, :].long(), 1.0)
    return out


def invert_permutation(perm: Tensor) -> Tensor:
    """``σ⁻¹`` for ``perm`` of shape ``(batch, n)``."""
    return torch.argsort(perm, dim=-1)


def _cycles(perm: list[int]) -> str:
    """A permutation in cycle notation, ``"permutation (0 2 1)(3 4)"`` (i ↦ perm[i])."""
    seen, cycles = set(), []
    for start in range(len(perm)):
        if start in seen or perm[start] == start:
            continue
        cycle, i = [], start
        while i not in seen:
            seen.add(i)
            cycle.append(i)
            i = perm[i]
        cycles.append("(" + " ".join(map(str, cycle)) + ")")
    return "permutation " + "".join(cycles) if cycles else "identity"


class SymmetricGroup(FiniteGroup):
    """S_n. Representations: ``"permutation"`` (n×n, ``P_σ``), ``"standard"`` (the
    (n−1)-dimensional irreducible one on sum-zero vectors, ``Uᵀ P_σ U`` in the orthonormal
    Helmert basis ``U``, so ``P ≅ trivial ⊕ standard``), ``"sign"`` and ``"regular"`` (n ≤ 8)."""

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"symmetric group needs a positive int n, got {n!r}")
        self.n = n
        self.name = f"S{n}"

    @property
    def order(self) -> int:
        return math.factorial(self.n)

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.arange(self.n, device=device).expand(batch, -1).clone()

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> Tensor:
        _check_batch(batch)
        return torch.rand(batch, self.n, generator=generator).argsort(dim=-1).to(device)

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> Tensor:
        if self.n > MAX_ENUMERABLE:
            raise ValueError(
                f"S{self.n} has {self.order} elements, too many to enumerate; use its generators "
                f"(n <= {MAX_ENUMERABLE} can be enumerated)")
        return torch.tensor(list(itertools.permutations(range(self.n))), device=device)

    def generators(self) -> Tensor:
        """A transposition ``(0 1)`` and the n-cycle ``i ↦ i + 1``."""
        swap = torch.arange(self.n)
        if self.n > 1:
            swap[0], swap[1] = 1, 0
        cycle = torch.remainder(torch.arange(self.n) + 1, self.n)
        return torch.stack([swap, cycle])

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return torch.gather(g, 1, h)

    def inverse(self, g: Tensor) -> Tensor:
        return invert_permutation(g)

    def distance(self, g: Tensor, h: Tensor) -> Tensor:
        return (g != h).any(dim=-1).to(DEFAULT_DTYPE)

    def describe(self, g: Tensor) -> list[str]:
        return [_cycles(p) for p in g.long().tolist()]

    def index(self, g: Tensor) -> Tensor:
        """Lexicographic rank of each permutation (matches :meth:`elements` order)."""
        n = self.n
        b = g.shape[0]
        idx = torch.zeros(b, dtype=torch.long)
        for i in range(n):
            smaller_later = (g[:, i + 1:] < g[:, i:i + 1]).sum(dim=1)
            idx = idx + smaller_later * math.factorial(n - 1 - i)
        return idx

    @property
    def representations(self) -> dict[str, int]:
        reps = {"permutation": self.n, "standard": self.n - 1, "sign": 1}
        if self.n < 2:
            del reps["standard"]
        if self.n <= MAX_ENUMERABLE:
            reps["regular"] = self.order
        return reps

    def _representation(self, g: Tensor, kind: str) -> Tensor:
        if kind == "regular":
            return self.regular_representation(g)
        perm = permutation_matrix(g)
        if kind == "standard":
            u = helmert_basis(self.n, dtype=perm.dtype, device=perm.device)
            return u.T @ perm @ u
        if kind == "sign":
            return torch.linalg.det(perm).round().reshape(-1, 1, 1)
        return perm


def helmert_basis(n: int, *, dtype: torch.dtype = DEFAULT_DTYPE,
                  device: Device = None) -> Tensor:
    """An orthonormal basis ``U`` (``(n, n − 1)``) of the sum-zero vectors of ℝⁿ:
    ``u_k = (1, …, 1, −k, 0, …, 0)/√(k(k+1))`` with ``k`` ones, ``k = 1..n−1``."""
    u = torch.zeros(n, n - 1, dtype=dtype, device=device)
    for k in range(1, n):
        u[:k, k - 1] = 1.0
        u[k, k - 1] = -float(k)
        u[:, k - 1] /= (k * (k + 1)) ** 0.5
    return u
