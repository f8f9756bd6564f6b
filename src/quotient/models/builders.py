"""One call builds a group-invariant autoencoder for each data kind.

=================  ===============================  ===========================================
builder            data                             group (exact)
=================  ===============================  ===========================================
``image_giae``     images ``(B, C, S, S)``          C4 quarter turns (SO(2) learned)
``signal_giae``    signals ``(B, C, L)``            ℤ_L integer shifts (real shifts learned)
``set_giae``       sets ``(B, n, d)``               S_n
``point_giae``     point clouds ``(B, n, 2 or 3)``  SE(d) × S_n (``group="E"``: E(d) × S_n)
``molecule_giae``  ``(positions (B, n, 3), types)`` E(3) × S_n, types move with their atoms
``graph_giae``     adjacency ``(B, n, n)``          S_n (``A ↦ P A Pᵀ``)
=================  ===============================  ===========================================

Sets, point clouds and graphs of different sizes are padded to the largest and given with a
mask: ``(x, mask)`` with ``mask (B, n)`` bool (``types`` of −1 mark padding for molecules).
Padding never changes the code ``z``; the default loss counts real elements only
(:func:`~quotient.models.losses.masked_mse`). Every builder's model declares its
:attr:`~quotient.models.GIAE.symmetry` (check it with :func:`quotient.testing.check_module`).

>>> import torch
>>> from quotient.models.builders import set_giae
>>> model = set_giae(in_dim=6, max_elements=12, latent_dim=8)
>>> x = torch.randn(4, 12, 6)
>>> mask = torch.arange(12)[None, :] < torch.tensor([[5], [12], [7], [9]])
>>> model((x, mask)).z.shape
torch.Size([4, 8])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from torch import Tensor, nn

from ..nn.points import PointCloudEncoder
from ..nn.pose_perm import PermutationPose
from ..nn.pose_rigid import RigidPermutationPose
from ..nn.sets import SetDecoder, SetEncoder
from .giae import GIAE
from .graph_giae import GraphGIAE
from .image_giae import image_giae, signal_giae
from .losses import points_and_types_loss

__all__ = ["graph_giae", "image_giae", "molecule_giae", "point_giae", "set_giae",
           "signal_giae"]

PermMode = Literal["soft", "straight_through", "hard"]


class _TypeSoftmax(nn.Module):
    """Coordinates as they are, then a softmax over the types and "none"."""

    def __init__(self, decoder: nn.Module, dim: int) -> None:
        super().__init__()
        self.decoder, self.dim = decoder, dim

    def forward(self, z: object) -> object:
        import torch

        out = self.decoder(z)
        return torch.cat([out[..., :self.dim], torch.softmax(out[..., self.dim:], -1)], -1)


def set_giae(in_dim: int, max_elements: int, *, latent_dim: int = 16, hidden: int = 64,
             layers: int = 1, encoder: Literal["deepsets", "attention"] = "deepsets",
             decoder_hidden: int = 256, decoder_layers: int = 2,
             decoder: Literal["mlp", "query"] = "mlp",
             output: Literal["linear", "softmax", "sigmoid"] = "linear", tau: float = 1.0,
             perm_mode: PermMode = "straight_through", entropy_weight: float = 0.025,
             reconstruction_loss: Callable[[Tensor, Any], Tensor] | None = None) -> GIAE:
    """The S_n GIAE for sets of feature vectors ``(B, n, in_dim)``, ``n ≤ max_elements``.

    Encoder: DeepSets (or attention) layers, a pooled invariant code and per-element scores;
    pose: the SoftSort permutation of the scores; decoder: an MLP to ``max_elements`` canonical
    slots (real elements first; ``decoder="query"``: one MLP shared by the slots).
    ``output="softmax"`` with ``reconstruction_loss=categorical_nll`` for one-hot elements."""
    perm = PermutationPose(tau=tau, mode=perm_mode)
    return GIAE(SetEncoder(in_dim, latent_dim, hidden=hidden, layers=layers, kind=encoder),
                perm,
                SetDecoder(latent_dim, max_elements, in_dim, hidden=decoder_hidden,
                           layers=decoder_layers, kind=decoder, output=output),
                reconstruction_loss=reconstruction_loss,
                penalty_weights={"perm_entropy": entropy_weight})


def point_giae(max_points: int, *, dim: Literal[2, 3] = 3, group: Literal["SE", "E"] = "SE",
               latent_dim: int = 16, n_types: int = 0, hidden: int = 64,
               code_hidden: int = 256, egnn_layers: int = 0, decoder_hidden: int = 256,
               decoder_layers: int = 2, rotation: Literal["procrustes", "frame"] = "procrustes",
               frame_blend: float = 0.1, frame_blend_train: bool = True,
               second_point: Literal["axis", "axis_anchor"] = "axis_anchor",
               z_from: Literal["sorted", "pooled"] = "sorted", tau: float = 1.0,
               perm_mode: PermMode = "straight_through", entropy_weight: float = 0.025,
               type_weight: float = 1.0) -> GIAE:
    """The rigid-motion × S_n GIAE for point clouds in the plane or in space.

    ``group="SE"`` keeps mirror images apart, ``"E"`` identifies them. With ``n_types > 0``
    the input is ``(positions, types)`` (types in ``[0, n_types)``, −1 = padding) and the
    decoder also predicts each canonical slot's type. Encoder: the anchor frame of
    individualised points (blended over near-ties, so the code is continuous), frame
    coordinates sorted by SoftSort scores; decoder: an MLP to the canonical points; the
    reconstruction is moved and reordered back, the rotation refined by Procrustes. The frame
    options are those of :class:`~quotient.nn.points.PointCloudEncoder` (``blend_train`` is
    ``frame_blend_train``)."""
    if dim not in (2, 3):
        raise ValueError(f"point_giae: dim must be 2 or 3, got {dim}")
    if group not in ("SE", "E"):
        raise ValueError(f"point_giae: group must be 'SE' or 'E', got {group!r}")
    proper = group == "SE"
    perm = PermutationPose(tau=tau, mode=perm_mode)
    encoder = PointCloudEncoder(latent_dim, max_points, n_types=n_types, hidden=hidden,
                                egnn_layers=egnn_layers, z_from=z_from, z_hidden=code_hidden,
                                proper=proper, perm=perm, frame_blend=frame_blend,
                                blend_train=frame_blend_train, second_point=second_point, dim=dim)
    width = dim + (n_types + 1 if n_types else 0)
    decoder: nn.Module = SetDecoder(latent_dim, max_points, width, hidden=decoder_hidden,
                                    layers=decoder_layers)
    if n_types:
        decoder = _TypeSoftmax(decoder, dim)
    return GIAE(encoder, RigidPermutationPose(perm, rotation=rotation, proper=proper), decoder,
                reconstruction_loss=points_and_types_loss(type_weight) if n_types else None,
                penalty_weights={"perm_entropy": entropy_weight})


def molecule_giae(n_types: int, max_atoms: int, **kwargs: object) -> GIAE:
    """:func:`point_giae` for molecules: 3-d, E(3) × S_n, ``n_types`` element types."""
    return point_giae(max_atoms, dim=3, group="E", n_types=n_types, **kwargs)  # type: ignore[arg-type]


def graph_giae(max_nodes: int, **kwargs: object) -> GraphGIAE:
    """The S_n GIAE for graphs of at most ``max_nodes`` nodes (see
    :class:`~quotient.models.graph_giae.GraphGIAE` for the options)."""
    return GraphGIAE(max_nodes, **kwargs)  # type: ignore[arg-type]
