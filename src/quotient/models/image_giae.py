"""Ready-made GIAEs and baselines for images (SO(2)) and periodic signals (cyclic shifts).

Factories wire the generic :class:`~quotient.models.giae.GIAE` with the blocks of
:mod:`quotient.nn.images` / :mod:`quotient.nn.signals` and the circle pose heads:

    image_giae(...)   x (B, C, S, S) -> z (B, d), θ (B,);  x̂ = rotate_image(θ, δ(z))
    signal_giae(...)  x (B, C, L)    -> z (B, d), s (B,);  x̂ = fourier_shift(s, δ(z))
"""

from __future__ import annotations

from torch import nn

from ..actions import rotate_image
from ..groups import SO2
from ..nn.image_encoder import C4Encoder
from ..nn.images import ConvDecoder, ConvEncoder
from ..nn.pose_so2 import ShiftPoseHead, SO2PoseHead, shift_by_angle, turn_vector
from ..nn.signals import CircularEncoder, MLPDecoder, MLPEncoder
from .baselines import AutoEncoder, C4VectorEncoder, EquivariantAutoEncoder, random_rotation
from .giae import GIAE

__all__ = ["image_baseline", "image_giae", "signal_baseline", "signal_giae"]

IMAGE_BASELINES = ("classical", "augmented", "equivariant")


def image_giae(*, in_channels: int = 1, image_size: int = 28, latent_dim: int = 32,
               widths: tuple[int, ...] = (8, 16, 32),
               decoder_widths: tuple[int, ...] = (64, 32, 16),
               kernel_size: int = 3, norm: bool = True, pose: str = "dipole",
               refine: int = 0) -> GIAE:
    """The SO(2) GIAE for square images: a C4 group-CNN encoder (exactly invariant /
    equivariant under quarter turns), the atan2 pose head and a plain CNN decoder.

    ``pose`` selects how the encoder forms its 2-vector and ``refine`` whether it first turns
    the input back by a first estimate (see :class:`C4Encoder`)."""
    enc = C4Encoder(in_channels, latent_dim, widths, kernel_size, image_size, norm,
                    pose=pose, refine=refine)
    dec = ConvDecoder(latent_dim, in_channels, decoder_widths, image_size)
    # exact under quarter turns; under other angles learned and limited by resampling
    return GIAE(enc, SO2PoseHead(), dec, approximate=(SO2(), rotate_image, turn_vector))


def image_baseline(kind: str, *, in_channels: int = 1, image_size: int = 28,
                   latent_dim: int = 32, widths: tuple[int, ...] = (8, 16, 32),
                   cnn_widths: tuple[int, ...] = (32, 64, 128),
                   decoder_widths: tuple[int, ...] = (64, 32, 16)) -> nn.Module:
    """A baseline with the GIAE's decoder: ``"classical"`` (plain CNN encoder),
    ``"augmented"`` (the same, trained on randomly rotated inputs) or ``"equivariant"`` (C4
    vector code, made invariant by norms)."""
    if kind in ("classical", "augmented"):
        enc = ConvEncoder(in_channels, latent_dim, cnn_widths, image_size)
        dec = ConvDecoder(latent_dim, in_channels, decoder_widths, image_size)
        return AutoEncoder(enc, dec, augment=random_rotation if kind == "augmented" else None)
    if kind == "equivariant":
        venc = C4VectorEncoder(in_channels, latent_dim, widths, image_size)
        return EquivariantAutoEncoder(venc, ConvDecoder(2 * latent_dim, in_channels,
                                                        decoder_widths, image_size))
    raise ValueError(f"unknown image baseline {kind!r}; choose one of {IMAGE_BASELINES}")


def signal_giae(*, in_channels: int = 1, length: int = 64, latent_dim: int = 16,
                widths: tuple[int, ...] = (32, 32, 32), kernel_size: int = 5,
                hidden: int = 256) -> GIAE:
    """The cyclic-shift GIAE for signals: a circular-conv encoder (exactly invariant /
    equivariant under integer shifts), the Fourier-phase pose head and an MLP decoder."""
    enc = CircularEncoder(in_channels, latent_dim, widths, kernel_size, length)
    dec = MLPDecoder(latent_dim, in_channels, length, hidden)
    # exact under integer shifts; under real-valued (Fourier) shifts learned
    return GIAE(enc, ShiftPoseHead(length), dec,
                approximate=(SO2(), shift_by_angle(length), turn_vector))


def signal_baseline(*, in_channels: int = 1, length: int = 64, latent_dim: int = 16,
                    hidden: int = 256) -> AutoEncoder:
    """The classical signal autoencoder with the GIAE's decoder."""
    return AutoEncoder(MLPEncoder(in_channels, length, latent_dim, hidden),
                       MLPDecoder(latent_dim, in_channels, length, hidden))
