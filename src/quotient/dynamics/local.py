"""The risk around the current weights as a function of orthonormal coordinates of ``L``.

Hessian-vector products use double back-propagation through the model's ``risk()`` closure
(which must evaluate the model); the stability blocks and the stationary-point finder are built
on them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._errors import SubspaceError
from .layers import SubspaceLayer, subspace_layers, substituted_coefficients

Risk = Callable[[], Tensor]
"""A risk to minimise: a function of no arguments returning a scalar tensor (it reads the
current weights)."""


class LocalModel:
    """The risk around the current weights as a function of orthonormal ``L``-coordinates.

    ``f(u) = R(A* + Q_L u)`` with ``u`` the concatenation over layers; :meth:`hvp` gives
    ``∇²f(0) v`` (the Hessian restricted to ``L``), :meth:`project_E` the projection onto
    ``Q_Lᵀ E``.
    """

    def __init__(self, model: nn.Module, risk: Risk) -> None:
        self.layers: list[SubspaceLayer] = subspace_layers(model)
        if not self.layers:
            raise SubspaceError("the model has no subspace layers")
        self.model, self.risk = model, risk
        self.sizes = [layer.space.n_coef for layer in self.layers]
        self.dim = sum(self.sizes)
        self.base = [layer.coef.detach().to(torch.float64).clone() for layer in self.layers]
        if any(layer.coef.dtype != torch.float64 for layer in self.layers):
            raise SubspaceError("stability analysis needs float64 coefficients")
        self._u = torch.zeros(self.dim, dtype=torch.float64, requires_grad=True)
        self._grad: Tensor | None = None

    def _split(self, u: Tensor) -> list[Tensor]:
        return list(torch.split(u, self.sizes))

    def coefs(self, u: Tensor) -> list[Tensor]:
        """Coefficient vectors of ``A* + Q_L u``."""
        return [c0 + layer.space.coefficients(layer.space.from_orthonormal(ui))
                for c0, layer, ui in zip(self.base, self.layers, self._split(u), strict=True)]

    def value(self, u: Tensor) -> Tensor:
        """``f(u)``."""
        with substituted_coefficients(self.model, self.coefs(u)):
            return self.risk()

    def gradient(self, u: Tensor | None = None) -> Tensor:
        """``∇f(u)`` (at 0 by default)."""
        u = self._u if u is None else u.detach().clone().requires_grad_(True)
        return torch.autograd.grad(self.value(u), u)[0]

    def hvp(self, v: Tensor) -> Tensor:
        """``∇²f(0) v``."""
        if self._grad is None:
            self._grad = torch.autograd.grad(self.value(self._u), self._u, create_graph=True)[0]
        return torch.autograd.grad(self._grad, self._u, grad_outputs=v, retain_graph=True)[0]

    def project_E(self, u: Tensor) -> Tensor:
        """``Q_Lᵀ Π_E Q_L u`` (the E part of a coordinate vector)."""
        parts = []
        for layer, ui in zip(self.layers, self._split(u), strict=True):
            a = layer.space.from_orthonormal(ui)
            parts.append(layer.space.to_orthonormal(layer.geometry.project_E(a)))
        return torch.cat(parts)

    def from_weights(self, weights: list[Tensor]) -> Tensor:
        """Coordinates ``Q_Lᵀ A`` of per-layer flat weights."""
        return torch.cat([layer.space.to_orthonormal(w.to(torch.float64))
                          for layer, w in zip(self.layers, weights, strict=True)])
