"""Baselines measured in the same harness as the GIAE.

* :class:`AutoEncoder` — a classical autoencoder ``x̂ = δ(ε(x))`` (no symmetry); with an
  ``augment`` function it is trained on randomly transformed inputs (the augmented baseline).
* :class:`EquivariantAutoEncoder` — an encoder whose code is a set of ``d`` frequency-1 2-vectors
  ``V (B, d, 2)`` that turn with the input (``V(ρ(φ)x) ≈ R(φ)V(x)``, exactly for quarter turns);
  the decoder reads the flattened vectors. Made invariant *afterwards* by taking their norms,
  ``z = (|V_1|, …, |V_d|)``.

All models here and :class:`~quotient.models.giae.GIAE` share the evaluation interface used by
the experiments: ``embed(x) -> z``, ``reconstruct(x) -> x̂`` and ``loss(x) -> (loss, logs)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..nn.image_encoder import C4Encoder
from ..nn.images import check_images

__all__ = ["AutoEncoder", "C4VectorEncoder", "EquivariantAutoEncoder", "random_rotation"]

Augment = Callable[[Tensor, torch.Generator], Tensor]


def _mse(a: Tensor, b: Tensor) -> Tensor:
    return torch.mean((a - b) ** 2)


def random_rotation(x: Tensor, generator: torch.Generator) -> Tensor:
    """Turn every image by its own uniform angle in ``[0, 2π)`` (bilinear, see
    :func:`~quotient.actions.rotate_image`); the augmentation of the augmented baseline."""
    from ..actions import rotate_image

    angle = torch.rand(x.shape[0], generator=generator, dtype=torch.float64) * (2 * math.pi)
    return rotate_image(angle.to(device=x.device, dtype=x.dtype), x)


class AutoEncoder(nn.Module):
    """``x̂ = δ(ε(x))``, trained with the mean squared error.

    Args:
        encoder: ``x -> z (B, d)``.
        decoder: ``z -> x̂``.
        augment: ``augment(x, generator) -> x'``; the training loop applies it to each batch
            before the forward pass (the target is the augmented batch). Stored, not applied
            here, so that the randomness comes from the loop's resumable per-step generator.
        reconstruction_loss: ``(x̂, x) -> scalar``; mean squared error by default.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *,
                 augment: Augment | None = None,
                 reconstruction_loss: Callable[[Tensor, Tensor], Tensor] | None = None) -> None:
        super().__init__()
        self.encoder, self.decoder, self.augment = encoder, decoder, augment
        self.reconstruction_loss = reconstruction_loss or _mse

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.reconstruct(x)

    def loss(self, x: Tensor, out: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """The reconstruction loss (``mean (x̂ − x)²`` by default) with ``x̂ = out`` (computed if
        ``None``) and its value as logs."""
        rec = self.reconstruction_loss(self(x) if out is None else out, x)
        value = float(rec.detach())
        return rec, {"rec": value, "loss": value}


class C4VectorEncoder(nn.Module):
    """``x -> V (B, d, 2)``: ``d`` frequency-1 vectors from a C4 group CNN.

    The pooled orientation profile ``p (B, C, 4)`` of :class:`~quotient.nn.images.C4Encoder` is
    mixed linearly over fields, ``u (B, d, 4)``, and each row becomes
    ``V_j = Σ_r u_{j,r} (cos(πr/2), sin(πr/2))``; a quarter turn ``k`` turns every ``V_j`` by
    ``πk/2``. Invariant projection: ``|V_j|``.
    """

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (8, 16, 32), image_size: int | None = 28) -> None:
        super().__init__()
        self.trunk = C4Encoder(in_channels, latent_dim=1, widths=widths, image_size=image_size)
        self.mix = nn.Linear(widths[-1], latent_dim, bias=False)
        self.latent_dim = latent_dim

    def forward(self, x: Tensor) -> Tensor:
        t = self.trunk
        check_images(x, t.in_channels, t.image_size, type(self).__name__)
        f = t.features(x)
        b = f.shape[0]
        p = f.view(b, -1, 4, f.shape[-2] * f.shape[-1]).mean(-1)  # (B, C, 4)
        u = self.mix(p.transpose(1, 2)).transpose(1, 2)  # (B, d, 4)
        return u @ t.phasors.to(u.dtype)  # (B, d, 2)


class EquivariantAutoEncoder(AutoEncoder):
    """An autoencoder with an equivariant vector code, made invariant afterwards by norms.

    ``x̂ = δ(flatten(V(x)))`` with ``V`` from :class:`C4VectorEncoder` (the decoder takes
    ``2d`` inputs); ``embed(x) = |V(x)|`` row-wise, ``(B, d)``.
    """

    def __init__(self, encoder: C4VectorEncoder, decoder: nn.Module) -> None:
        super().__init__(encoder, decoder)

    def code(self, x: Tensor) -> Tensor:
        """The equivariant code ``V (B, d, 2)``."""
        return self.encoder(x)

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x).norm(dim=-1)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x).flatten(1))
