"""The group-invariant autoencoder as one generic composition (Winter et al., 2022).

    z = η(x)                invariant code            (encoder, first output)
    y = μ(x)                equivariant pose features (encoder, second output)
    pose = ξ(y)             group element, closed form (pose head)
    x̂₀ = δ(z)               canonical reconstruction  (decoder, a plain network)
    x̂ = ρ(pose)·x̂₀          reconstruction            (pose.apply)

The loss is ``reconstruction(x̂, x) + Σ_k w_k · pose.penalties[k]``; with an invariant η and an
equivariant ψ = ξ∘μ it is itself invariant. Every data kind plugs in its own encoder, pose head
(SO(2) angle, cyclic shift, SoftSort permutation, Gram–Schmidt rotation, ...) and decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn


@dataclass
class Pose:
    """A predicted group element and how to apply it to a canonical reconstruction.

    Attributes:
        element: the (hard) group element per sample, in the group's tensor encoding — used
            for evaluation (pose equivariance, canonicalisation).
        apply: ``apply(canonical) -> reconstruction``; may use a relaxed (soft) element during
            training, e.g. a SoftSort matrix for permutations.
        penalties: named regularisers (scalars), e.g. the SoftSort entropy.
        info: extra tensors the head exposes for evaluation (e.g. the permutation matrix used).
        refine: optional closed-form refinement given the decoded canonical element,
            ``refine(canonical) -> Pose`` (e.g. a Procrustes rotation that aligns the canonical
            to the input); :meth:`GIAE.forward` applies it before ``apply``. It must keep the
            pose equivariant (it sees the input only through equivariant features).
    """

    element: Any
    apply: Callable[[Any], Any]
    penalties: dict[str, Tensor] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    refine: Callable[[Any], Pose] | None = None


class PoseHead(Protocol):
    """ξ: equivariant features ``y`` -> :class:`Pose`. Fixed (closed form) or lightly learned."""

    def __call__(self, features: Any) -> Pose: ...


@dataclass
class GIAEOutput:
    """Everything one forward pass produces (shapes follow the data kind)."""

    z: Tensor
    pose: Pose
    canonical: Any
    reconstruction: Any


class GIAE(nn.Module):
    """``x ≈ ρ(ξ(μ(x))) · δ(η(x))``.

    Args:
        encoder: ``x -> (z, features)`` with ``z`` invariant ``(batch, latent_dim)`` and
            ``features`` equivariant (consumed by ``pose_head``).
        pose_head: ``features -> Pose``.
        decoder: ``z -> canonical x``.
        reconstruction_loss: ``(reconstruction, x) -> scalar``; mean squared error by default.
        penalty_weights: weights of the pose head's named penalties (missing names weigh 1).
    """

    def __init__(
        self,
        encoder: nn.Module,
        pose_head: nn.Module,
        decoder: nn.Module,
        *,
        reconstruction_loss: Callable[[Any, Any], Tensor] | None = None,
        penalty_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pose_head = pose_head
        self.decoder = decoder
        self.reconstruction_loss = reconstruction_loss or _mse
        self.penalty_weights = dict(penalty_weights or {})

    def encode(self, x: Any) -> tuple[Tensor, Pose]:
        """The latent pair ``(z, pose)``."""
        check_dtype(self, x)
        z, features = self.encoder(x)
        return z, self.pose_head(features)

    def embed(self, x: Any) -> Tensor:
        """The invariant code ``z = η(x)`` alone."""
        return self.encoder(x)[0]

    def reconstruct(self, x: Any) -> Any:
        """``ρ(ψ(x))·δ(η(x))``."""
        return self(x).reconstruction

    def forward(self, x: Any) -> GIAEOutput:
        z, pose = self.encode(x)
        canonical = self.decoder(z)
        if pose.refine is not None:
            pose = pose.refine(canonical)
        return GIAEOutput(z, pose, canonical, pose.apply(canonical))

    def loss(self, x: Any, out: GIAEOutput | None = None) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its named parts (as floats, for logging)."""
        out = self(x) if out is None else out
        rec = self.reconstruction_loss(out.reconstruction, x)
        total = rec
        logs = {"rec": float(rec.detach())}
        for name, value in out.pose.penalties.items():
            w = self.penalty_weights.get(name, 1.0)
            total = total + w * value
            logs[name] = float(value.detach())
        logs["loss"] = float(total.detach())
        return total, logs


def _first_float(x: Any) -> Tensor | None:
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else None
    if isinstance(x, (tuple, list)):
        for part in x:
            found = _first_float(part)
            if found is not None:
                return found
    return None


def check_dtype(model: nn.Module, x: Any) -> None:
    """Raise ``TypeError`` when the floating-point input and the model's parameters differ in
    dtype (torch's own message names neither the input nor the fix)."""
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    data = _first_float(x)
    if param is not None and data is not None and data.dtype != param.dtype:
        def name(t: torch.dtype) -> str:
            return str(t).replace("torch.", "")

        raise TypeError(
            f"the input is {name(data.dtype)} but the model's parameters are "
            f"{name(param.dtype)}; convert the input with x.to({param.dtype}), or the model "
            f"with model.to({data.dtype})")


def _mse(a: Tensor, b: Tensor) -> Tensor:
    return torch.mean((a - b) ** 2)


__all__ = ["GIAE", "GIAEOutput", "Pose", "PoseHead"]
