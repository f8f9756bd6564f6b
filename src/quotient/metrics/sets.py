"""Metrics for sets, point clouds and molecules: element and set accuracy, RMSD, the
reconstruction figures of a molecule autoencoder, and the equivariance of rigid and
permutation poses.

Pose functions return ``(homogeneous (N, 4, 4), order (N, n))`` as
:class:`~quotient.nn.pose_rigid.RigidPermutationPose` does, for the product group
``SE(3)/E(3) × S_n`` acting by ``rigid_motion_and_permute_points``: ``g = (h, σ)`` moves the
points by ``h`` and reorders them by ``σ``; an equivariant pose satisfies
``R(g·x) = R_h R(x)``, ``t(g·x) = h·t(x)`` and ``order(g·x) = σ ∘ order(x)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..groups import rotation_part, translation_part

__all__ = [
    "element_accuracy",
    "molecule_reconstruction_metrics",
    "permutation_recovery",
    "rigid_pose_errors",
    "rmsd",
    "set_accuracy",
]


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} "
                         "must have the same shape (batch, n_elements)")


def element_accuracy(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """Fraction of (real) elements whose predicted class equals the target, ``(N, n)`` ints."""
    _check_pair(pred, target)
    ok = pred == target
    if mask is None:
        return float(ok.double().mean())
    return float(ok[mask.bool()].double().mean())


def set_accuracy(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """Fraction of sets with *every* real element right (``(N, n)`` ints)."""
    _check_pair(pred, target)
    ok = pred == target
    if mask is not None:
        ok = ok | ~mask.bool()
    return float(ok.all(dim=1).double().mean())


def rmsd(reconstruction: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Per-sample root-mean-square deviation ``sqrt(mean_i |x̂_i − x_i|²)`` over real points,
    ``(N, n, 3) -> (N,)``, in the units of the coordinates (Å for molecules)."""
    if reconstruction.shape != target.shape or target.dim() != 3:
        raise ValueError(f"rmsd needs two (batch, n, 3) arrays of one shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(target.shape)}")
    sq = (reconstruction.double() - target.double()).pow(2).sum(-1)
    if mask is None:
        return sq.mean(dim=1).sqrt()
    m = mask.double()
    return ((sq * m).sum(1) / m.sum(1).clamp_min(1.0)).sqrt()


@torch.no_grad()
def molecule_reconstruction_metrics(model: torch.nn.Module, x: tuple[Tensor, Tensor],
                                    batch_size: int = 100) -> dict[str, float]:
    """Reconstruction figures of a molecule autoencoder on ``x = (positions (N, A, 3),
    elements (N, A))`` (−1 = padding), evaluated in chunks in ``eval()`` mode; the
    reconstruction ``(N, A, 3 + E + 1)`` holds coordinates, then element probabilities.

    Returns ``rmsd`` (the per-molecule :func:`rmsd` over real atoms, mean over molecules, in
    Å), ``rmsd_median`` and ``type_acc`` (share of real atoms whose most likely element is
    right).
    """
    pos, types = x
    model.eval()
    rec = torch.cat([model((pos[i:i + batch_size], types[i:i + batch_size])).reconstruction
                     for i in range(0, pos.shape[0], batch_size)])
    real = types >= 0
    dev = rmsd(rec[..., :3], pos, real)
    return {"rmsd": float(dev.mean()), "rmsd_median": float(dev.median()),
            "type_acc": float((rec[..., 3:].argmax(-1) == types)[real].double().mean())}


Pose = Callable[[Any], tuple[Tensor, Tensor]]


def rigid_pose_errors(pose: Pose, x: Any, moved: Any, g: tuple[Tensor, Tensor]
                      ) -> dict[str, Tensor]:
    """Per-sample equivariance errors of a ``(rigid, order)`` pose.

    Args:
        pose: ``x -> (homogeneous (N, 4, 4), order (N, n))``.
        x: inputs; ``moved``: the same inputs acted on by ``g = (h (N, 4, 4), σ (N, n))``.

    Returns:
        ``{"rotation": ‖R(g·x) − R_h R(x)‖_F / √3, "translation": ‖t(g·x) − h·t(x)‖ /
        ‖h·t(x)‖ (relative), "order": 1.0 where order(g·x) ≠ σ∘order(x), else 0.0}``,
        each of shape ``(N,)``.
    """
    with torch.no_grad():
        hom, order = pose(x)
        hom_g, order_g = pose(moved)
    h, sigma = g
    h = h.to(torch.float64)
    rot, t = rotation_part(hom).double(), translation_part(hom).double()
    rot_h, t_h = rotation_part(h), translation_part(h)
    expected_r = rot_h @ rot
    expected_t = (rot_h @ t[..., None])[..., 0] + t_h
    r_err = (rotation_part(hom_g).double() - expected_r).flatten(1).norm(dim=1) / 3 ** 0.5
    t_err = (translation_part(hom_g).double() - expected_t).norm(dim=1)
    t_err = t_err / expected_t.norm(dim=1).clamp_min(1e-12)
    composed = torch.gather(sigma, 1, order)
    return {"rotation": r_err, "translation": t_err,
            "order": (order_g != composed).any(dim=1).double()}


def permutation_recovery(order: Callable[[Any], Tensor], x: Tensor, sigma: Tensor,
                         shuffle: Callable[[Tensor, Tensor], Tensor]) -> float:
    """Fraction of samples whose hard permutation of the shuffled input ``σ·x`` is exactly
    ``σ ∘ order(x)`` — i.e. canonicalising a shuffled input gives back the same canonical
    order. ``shuffle(σ, x)`` applies the permutation (e.g. ``permute_set``)."""
    with torch.no_grad():
        o, o_s = order(x), order(shuffle(sigma, x))
    return float((o_s == torch.gather(sigma, 1, o)).all(dim=1).double().mean())
