"""The learned pose as a canonicaliser for any downstream model.

A trained group-invariant autoencoder gives every input a pose ``ψ(x)`` with
``ψ(g·x) = g∘ψ(x)``, so ``c(x) = ψ(x)⁻¹·x`` is invariant: ``c(g·x) = c(x)`` (exactly on the
exact group, for inputs whose pose is unique). :class:`Canonicalized` feeds ``c(x)`` to any
model ``f``:

* invariant outputs (classes, properties): ``F(x) = f(c(x))``, invariant whatever ``f`` is;
* outputs that transform like the input (``output="same"``, e.g. a denoised image):
  ``F(x) = ψ(x)·f(c(x))``, equivariant;
* other equivariant outputs: ``F(x) = act(ψ(x), f(c(x)))`` with the action ``act`` of the
  pose's group on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from ..symmetry import Symmetry

__all__ = ["Canonicalized"]


class Canonicalized(nn.Module):
    """``f`` behind a learned canonicaliser.

    Args:
        canonicalizer: a model with ``canonicalize(x) -> (ψ(x)⁻¹·x, pose)`` (a trained
            :class:`~quotient.models.GIAE`).
        model: the downstream model ``f``, trained on canonical inputs.
        output: ``"invariant"``, ``"same"`` (outputs shaped and acted on like inputs, put back
            with ``pose.apply``) or an action ``act(pose element, y)``.
        freeze: keep the canonicaliser fixed (``eval()``, no gradients): the usual use, a
            pretrained pose; ``False`` trains both together.
    """

    def __init__(self, canonicalizer: nn.Module, model: nn.Module, *,
                 output: Literal["invariant", "same"] | Callable[[Any, Any], Any] = "invariant",
                 freeze: bool = True) -> None:
        super().__init__()
        if not hasattr(canonicalizer, "canonicalize"):
            raise TypeError(f"{type(canonicalizer).__name__} has no canonicalize(x); pass a "
                            "trained GIAE")
        if isinstance(output, str) and output not in ("invariant", "same"):
            raise ValueError(f"output must be 'invariant', 'same' or an action, got {output!r}")
        self.canonicalizer, self.model, self.output, self.freeze = (canonicalizer, model,
                                                                    output, freeze)
        if freeze:
            canonicalizer.requires_grad_(False)

    def train(self, mode: bool = True) -> Canonicalized:
        super().train(mode)
        if self.freeze:
            self.canonicalizer.eval()
        return self

    def canonicalize(self, x: Any) -> tuple[Any, Any]:
        """``(ψ(x)⁻¹·x, pose)`` from the canonicaliser."""
        if self.freeze:
            with torch.no_grad():
                return self.canonicalizer.canonicalize(x)
        return self.canonicalizer.canonicalize(x)

    def forward(self, x: Any) -> Any:
        canonical, pose = self.canonicalize(x)
        y = self.model(canonical)
        if self.output == "invariant":
            return y
        if self.output == "same":
            return pose.apply(y)
        return self.output(pose.element, y)

    @property
    def symmetry(self) -> Symmetry | None:
        """Invariant (or equivariant like the input) under the canonicaliser's exact group."""
        inner = getattr(self.canonicalizer, "symmetry", None)
        if not isinstance(inner, Symmetry) or not isinstance(self.output, str):
            return None
        out = None if self.output == "invariant" else inner.input
        return Symmetry(inner.group, inner.input, out,
                        note="exact where the canonicaliser's pose is unique")
