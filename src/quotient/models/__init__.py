"""Models: the group-invariant autoencoder (GIAE) and its baselines."""

from .giae import GIAE, GIAEOutput, Pose, PoseHead

__all__ = ["GIAE", "GIAEOutput", "Pose", "PoseHead"]
