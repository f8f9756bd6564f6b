"""The QM9 experiment's group-invariant autoencoder for molecules: E(3) × S_n acting on
``(positions, elements)``.

    z, y = η(x)          an EGNN over all atom pairs (element embeddings, never the atom index)
                         gives invariant per-atom features; the anchor frame, its reflection
                         fixed by a pseudoscalar (E(3)), gives invariant frame coordinates;
                         per-atom scores sort the atoms (SoftSort) and ``z`` is read from them
                         (:class:`~quotient.nn.points.PointCloudEncoder`)
    ĉ = δ(z)             ``A`` canonical slots of (x, y, z, p(element), p(none))
    x̂ = Sᵀ(R ĉ + t)      Procrustes rotation (reflections allowed), centroid, atom order
                         (:class:`~quotient.nn.pose_rigid.RigidPermutationPose`)

Loss: mean squared error of the real atoms' coordinates (Å², per coordinate) +
``type_weight`` × the negative log-likelihood of the elements (padding must decode to "none")
+ ``entropy_weight`` × the SoftSort entropy. The symmetry report compares reconstructions on
the real atoms (the rigid motion moves the coordinates, the element probabilities are only
reordered). :func:`~quotient.models.builders.molecule_giae` is the general-purpose builder;
this one is the QM9 experiment's architecture (no frame blending, the first anchor's axis as
second anchor, its own loss), kept so that its trained numbers stay comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from ..nn.points import PointCloudEncoder
from ..nn.pose_perm import PermutationPose
from ..nn.pose_rigid import RigidPermutationPose
from ..nn.sets import SetDecoder
from .giae import GIAE

__all__ = ["LinearPlusMLP", "MoleculeDecoder", "molecule_loss", "qm9_giae"]


class MoleculeDecoder(nn.Module):
    """``z (B, d) -> (B, A, 3 + E + 1)``: coordinates, then a distribution over the ``E``
    elements and "none" (an empty slot).

    With ``linear``: ``out = MLP(z) + W z + b`` (a linear path beside the MLP, as in
    :class:`LinearPlusMLP`)."""

    def __init__(self, latent_dim: int, n_atoms: int, n_elements: int, hidden: int,
                 linear: bool = False) -> None:
        super().__init__()
        self.n_atoms, self.width = n_atoms, 3 + n_elements + 1
        self.net = SetDecoder(latent_dim, n_atoms, self.width, hidden=hidden)
        self.linear = nn.Linear(latent_dim, n_atoms * self.width) if linear else None

    def forward(self, z: Tensor) -> Tensor:
        out = self.net(z)
        if self.linear is not None:
            out = out + self.linear(z).view(z.shape[0], self.n_atoms, self.width)
        return torch.cat([out[..., :3], torch.softmax(out[..., 3:], dim=-1)], dim=-1)


class LinearPlusMLP(nn.Module):
    """``f (B, m) -> MLP(f) + W f`` (no bias on the linear path; the MLP has its own).

    Why: the canonical (framed, sorted) coordinates of QM9 molecules are close to a linear
    subspace — principal components of 64 of the 87 coordinates reconstruct held-out molecules
    to about 0.05 Å in the canonical frame, 32 components to about 0.75 Å — which plain MLPs
    do not find in a CPU budget (1.1–1.2 Å after 8k steps). A linear path in the code network
    and in the decoder lets the autoencoder start from that PCA-like solution (a linear
    autoencoder trained by gradient descent converges to the principal subspace) and spend the
    MLPs on the non-linear rest.
    """

    def __init__(self, mlp_net: nn.Module, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = mlp_net
        self.linear = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, f: Tensor) -> Tensor:
        return self.mlp(f) + self.linear(f)


def molecule_loss(type_weight: float, n_elements: int
                  ) -> Callable[[Tensor, tuple[Tensor, Tensor]], Tensor]:
    """``(reconstruction (B, A, 3 + E + 1), (positions (B, A, 3), elements (B, A))) -> loss``:
    ``Σ_real |x̂_i − x_i|² / (3 · #real) + type_weight · mean_i −log p̂_i(element_i)``, with
    padding (element −1) scored as "none"."""
    def loss(rec: Tensor, x: tuple[Tensor, Tensor]) -> Tensor:
        pos, types = x
        real = types >= 0
        sq = (rec[..., :3] - pos).pow(2).sum(-1)
        coord = (sq * real).sum() / real.sum() / 3
        target = torch.where(real, types, torch.full_like(types, n_elements))
        prob = rec[..., 3:].gather(-1, target[..., None])[..., 0]
        return coord + type_weight * -torch.log(prob.clamp_min(1e-9)).mean()
    return loss


def qm9_giae(*, n_atoms: int = 29, n_elements: int = 5, latent_dim: int = 32,
                  hidden: int = 32, egnn_layers: int = 3,
                  z_from: Literal["sorted", "pooled"] = "sorted", code_hidden: int = 128,
                  decoder_hidden: int = 256, type_weight: float = 1.0,
                  entropy_weight: float = 0.025,
                  perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through",
                  linear_path: bool = False,
                  second_point: Literal["axis", "axis_anchor"] = "axis_anchor") -> GIAE:
    """The E(3) × S_n GIAE for molecules of up to ``n_atoms`` atoms of ``n_elements`` elements
    (initialised from torch's global generator: build it inside
    :func:`~quotient.train.seeded`).

    Args:
        z_from: ``"sorted"`` (``z = MLP(S·[y, h])``, the frame coordinates and atom features in
            the canonical order, padding last) or ``"pooled"`` (``z = ρ(Σ_i φ(y_i, h_i))``).
        hidden, egnn_layers: EGNN width and depth; code_hidden: the code MLP;
            decoder_hidden: the decoder.
        type_weight, entropy_weight: weights of the element likelihood and SoftSort entropy.
        perm_mode: SoftSort in training (``"straight_through"``: exact permutation forward).
        linear_path: add linear paths beside the code MLP (``z_from="sorted"`` only) and the
            decoder MLP (:class:`LinearPlusMLP`); off by default so that older run
            directories load.
        second_point: how the encoder's anchor frame picks its second point
            (:func:`~quotient.nn.pose_frames.anchor_candidates`): ``"axis_anchor"`` (default)
            also prefers points far from the first, which separates two points lying opposite
            through the centroid — a tie in every three-atom molecule (water), where ``"axis"``
            lets rounding choose and the canonical form of a moved copy differs by up to
            0.39 Å (``benchmarks/qm9_canonical.py``).
    """
    perm = PermutationPose(mode=perm_mode)
    encoder = PointCloudEncoder(latent_dim, n_atoms, n_types=n_elements, hidden=hidden,
                                egnn_layers=egnn_layers, z_from=z_from, z_hidden=code_hidden,
                                proper=False, perm=perm, second_point=second_point)
    if linear_path and z_from == "sorted":
        code_in = encoder.code[0].in_features  # n_atoms · (3 + hidden): the sorted features
        encoder.code = LinearPlusMLP(encoder.code, code_in, latent_dim)
    return GIAE(encoder, RigidPermutationPose(perm, rotation="procrustes", proper=False),
                MoleculeDecoder(latent_dim, n_atoms, n_elements, decoder_hidden,
                                linear=linear_path),
                reconstruction_loss=molecule_loss(type_weight, n_elements),
                penalty_weights={"perm_entropy": entropy_weight})
