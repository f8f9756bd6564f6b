"""Models: the group-invariant autoencoder (GIAE), its baselines, and the learned pose as a
canonicaliser for downstream models (:class:`Canonicalized`)."""

from .canonical import Canonicalized
from .giae import GIAE, GIAEOutput, Pose, PoseHead

__all__ = ["GIAE", "Canonicalized", "GIAEOutput", "Pose", "PoseHead"]
