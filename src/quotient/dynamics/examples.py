"""The worked ℤ₂ example of an equivariant point that is a minimum for EQUI and a saddle for AUG.

``G = ℤ₂`` swaps the two coordinates of ``x ∈ ℝ²``; ``Φ_a(x) = (aᵀx)²`` (trivial representation
on the hidden and output spaces, so ``t ↦ t²`` is equivariant); ``L = H = ℝ²`` with the identity
(orthonormal) parametrisation; ``E = {a₁ = a₂}``; ``x ~ N(0, I₂)``, target ``y = (x₁ − x₂)²``,
squared loss. By Isserlis' theorem, with ``b = (1, −1)``:

    R(a) = E[((aᵀx)² − (bᵀx)²)²] = 3‖a‖⁴ − 4‖a‖² − 4(a·b)² + 12,

which is swap-invariant, so ``R^aug = R``. Along ``a = α(1, 1)``: ``R = 12α⁴ − 8α² + 12``,
minimal at ``α² = 1/3``. There ``∇²R = 24 a aᵀ − 8 b bᵀ``: ``+16`` on the unit E direction and
``−16`` on the unit E⊥ direction — stable for EQUI, a saddle for AUG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..groups import SymmetricGroup
from .layers import SubspaceLinear
from .reps import representation_action
from .training import Objective, Symmetry

E_DIRECTION = torch.tensor([1.0, 1.0], dtype=torch.float64) / math.sqrt(2.0)
PERP_DIRECTION = torch.tensor([1.0, -1.0], dtype=torch.float64) / math.sqrt(2.0)
STATIONARY_ALPHA = 1.0 / math.sqrt(3.0)


class SquaredProjection(nn.Module):
    """``Φ_a(x) = (aᵀx)²`` with ``a`` a :class:`SubspaceLinear` ``ℝ² → ℝ`` under ℤ₂ = S₂."""

    def __init__(self, group: SymmetricGroup) -> None:
        super().__init__()
        self.linear = SubspaceLinear(group.rep("permutation"), group.rep("trivial"))
        with torch.no_grad():
            self.linear.coef.copy_(STATIONARY_ALPHA * torch.ones(2, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).squeeze(-1) ** 2

    def weight(self) -> Tensor:
        """``a`` (``(2,)``)."""
        return self.linear.weight().reshape(2)


def population_risk(a: Tensor) -> Tensor:
    """``R(a) = 3‖a‖⁴ − 4‖a‖² − 4(a·b)² + 12`` (exact expectation over ``x ~ N(0, I₂)``)."""
    b = torch.tensor([1.0, -1.0], dtype=a.dtype)
    n2 = (a * a).sum()
    return 3 * n2 ** 2 - 4 * n2 - 4 * (a @ b) ** 2 + 12


@dataclass
class Z2Example:
    """The example's pieces.

    Attributes:
        model: ``Φ_a`` at the equivariant stationary point ``a* = (1, 1)/√3``.
        group: ℤ₂ as ``S₂``.
        symmetry: the swap acting on inputs (targets invariant).
    """

    model: SquaredProjection
    group: SymmetricGroup
    symmetry: Symmetry

    def risk(self) -> Tensor:
        """The population risk of the current model (equal to the augmented one)."""
        return population_risk(self.model.weight())

    def sample_objective(self, n: int, generator: torch.Generator | None = None) -> Objective:
        """``n`` samples ``x ~ N(0, I₂)``, ``y = (x₁ − x₂)²``, with the swap symmetry."""
        x = torch.randn(n, 2, dtype=torch.float64, generator=generator)
        y = (x[:, 0] - x[:, 1]) ** 2
        return Objective(self.model, lambda p, t: ((p - t) ** 2).mean(), x, y, self.symmetry)


def z2_example() -> Z2Example:
    """Build the example at its equivariant stationary point."""
    group = SymmetricGroup(2)
    model = SquaredProjection(group)
    return Z2Example(model, group, Symmetry(group, representation_action(group.rep("permutation"))))
