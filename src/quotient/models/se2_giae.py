"""The SE(2) group-invariant autoencoder for images of objects at any angle and position.

    se2_image_giae(...)  x (B, C, L, L) -> z (B, d), pose (θ, t);  x̂ = place_image(θ, t, δ(z))

The encoder is :class:`~quotient.nn.se2_images.SE2CropEncoder` (a shift-equivariant position,
a window of the image around it, the C4 group CNN of the rotated-MNIST GIAE on the window), the
pose head :class:`~quotient.nn.se2_images.SE2PoseHead`, the decoder the plain CNN decoder of a
``canonical_size`` canonical image, turned by ``θ`` and put at ``t`` on the canvas.
"""

from __future__ import annotations

from ..actions import rotate_image
from ..groups import SO2
from ..nn.images import ConvDecoder
from ..nn.se2_images import SE2CropEncoder, SE2PoseHead, rotate_pose_observed
from .giae import GIAE

__all__ = ["se2_image_giae"]


def se2_image_giae(*, in_channels: int = 1, canvas: int = 40, crop_size: int = 25,
                   canonical_size: int = 28, latent_dim: int = 32,
                   widths: tuple[int, ...] = (8, 16, 32),
                   decoder_widths: tuple[int, ...] = (64, 32, 16), kernel_size: int = 3,
                   norm: bool = True, pose: str = "dipole") -> GIAE:
    """The SE(2) GIAE on ``canvas × canvas`` images.

    Exact (float64 ~1e-16) under :class:`~quotient.groups.turns_shifts.QuarterTurnsShifts2d`:
    ``z`` invariant, the pose equivariant, the reconstruction equivariant; approximately under
    any angle about the canvas centre (declared as ``approximate``: SO(2) by
    :func:`~quotient.actions.rotate_image`, learned and limited by resampling).

    Args:
        canvas: side ``L`` of the input images.
        crop_size: odd side of the window the C4 encoder reads (should hold the object).
        canonical_size: side of the decoded canonical image (divisible by
            ``2^(len(decoder_widths) − 1)``, and ``canonical_size + 4 ≤ canvas`` so that the
            placed image never wraps around the torus).
        Others: as :func:`~quotient.models.image_giae.image_giae`.

    Raises:
        ValueError: sizes that cannot work (naming the fix).
    """
    if canonical_size + 4 > canvas:
        raise ValueError(f"canonical_size {canonical_size} needs a canvas of at least "
                         f"{canonical_size + 4} (got {canvas}); shrink the canonical image or "
                         "enlarge the canvas")
    enc = SE2CropEncoder(canvas, crop_size, in_channels, latent_dim=latent_dim, widths=widths,
                         kernel_size=kernel_size, norm=norm, pose=pose)
    dec = ConvDecoder(latent_dim, in_channels, decoder_widths, canonical_size)
    return GIAE(enc, SE2PoseHead(canvas), dec,
                approximate=(SO2(), rotate_image, rotate_pose_observed(canvas)))
