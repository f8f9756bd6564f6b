"""The SO(3) GIAE for voxel volumes and its classical baseline.

    volume_giae(...)      x (B, C, n³) -> z (B, d), R (B, 3, 3);  x̂ = R·δ(z)
    volume_baseline(...)  x̂ = δ(ε(x)) with a plain 3-d CNN encoder and the same decoder

The GIAE's encoder is the O group CNN (:class:`~quotient.nn.volume_encoder.CubeEncoder`), exact
under the 24 rotations of the cube; its pose head the Gram–Schmidt frame of two equivariant
vectors (:class:`~quotient.nn.pose_so3.SO3VolumePose`); under other rotations of SO(3) the
model is approximately invariant / equivariant (declared as ``approximate`` for the symmetry
report, acting by trilinear resampling).
"""

from __future__ import annotations

from ..actions.volumes import rotate_frame, rotate_volume
from ..groups import SO3
from ..nn.pose_so3 import SO3VolumePose
from ..nn.volume_cnn import VolumeCNNEncoder, VolumeDecoder
from ..nn.volume_encoder import CubeEncoder
from .baselines import AutoEncoder
from .giae import GIAE

__all__ = ["volume_baseline", "volume_giae"]


def volume_giae(*, in_channels: int = 1, size: int = 16, latent_dim: int = 32,
                widths: tuple[int, ...] = (4, 8, 8),
                decoder_widths: tuple[int, ...] = (32, 16), kernel_size: int = 3,
                norm: bool = True, hidden: int = 128, vectors: int = 6,
                pose: str = "moments") -> GIAE:
    """The SO(3) GIAE for ``size³`` volumes: O group-CNN encoder, Gram–Schmidt pose (from the
    volume's moments or from learned vectors, ``pose``), plain 3-d CNN decoder to the canonical
    volume."""
    enc = CubeEncoder(in_channels, latent_dim, widths, kernel_size, size, norm, hidden,
                      vectors=vectors, pose=pose)
    dec = VolumeDecoder(latent_dim, in_channels, decoder_widths, size)
    return GIAE(enc, SO3VolumePose(), dec, approximate=(SO3(), rotate_volume, rotate_frame))


def volume_baseline(*, in_channels: int = 1, size: int = 16, latent_dim: int = 32,
                    cnn_widths: tuple[int, ...] = (16, 32),
                    decoder_widths: tuple[int, ...] = (32, 16)) -> AutoEncoder:
    """The classical 3-d autoencoder with the GIAE's decoder (no symmetry)."""
    return AutoEncoder(VolumeCNNEncoder(in_channels, latent_dim, cnn_widths, size),
                       VolumeDecoder(latent_dim, in_channels, decoder_widths, size))
