"""Rigid poses ξ for point clouds: SE(d)/E(d) × S_n, d ∈ {2, 3}.

The frame ``R₀``, the centroid ``t`` and the Procrustes rotation come from
:mod:`~quotient.nn.pose_frames` (re-exported here): anchor frames by individualised points,
their tie candidates for blending codes, and the Kabsch alignment, in the plane (SE(2)/E(2))
and in space (SE(3)/E(3)). :class:`RigidPermutationPose` turns them, with the permutation pose
of :mod:`~quotient.nn.pose_perm`, into the pose ``(homogeneous [[R, t], [0, 1]], order)`` of
``product(RigidMotions(d), SymmetricGroup(n))``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import Action, compose_permutations, compose_rigid_permutations, permute_set
from ..groups.euclidean import homogeneous, rotation_part, translation_part
from ..symmetry import Symmetry
from .pose import Pose, masked_order
from .pose_frames import (
    FrameCandidates,
    anchor_candidates,
    anchor_frame,
    centroid,
    gram_schmidt,
    procrustes_rotation,
)
from .pose_perm import PermutationPose, order_mismatch, sort_parts, sort_rows, unsort_rows

__all__ = [
    "FrameCandidates",
    "PointFeatures",
    "RigidPermutationPose",
    "anchor_candidates",
    "anchor_frame",
    "centroid",
    "gram_schmidt",
    "procrustes_rotation",
]


@dataclass
class PointFeatures:
    """Equivariant outputs of a point-cloud encoder for :class:`RigidPermutationPose`.

    Attributes:
        rotation: frame ``R₀ (B, d, d)``, ``R₀(g·x) = R_g R₀(x)`` (d = 2 or 3).
        translation: ``t (B, d)``, equivariant.
        scores: per-point permutation scores ``(B, n)``, invariant under rigid motions and
            permutation-equivariant.
        centred: ``x − t`` in input order ``(B, n, d)``.
        mask: real points ``(B, n)``.
        perm: the permutation pose from the scores (built by the encoder when ``z`` depends
            on the sorted order, else by the pose head).
    """

    rotation: Tensor
    translation: Tensor
    scores: Tensor
    centred: Tensor
    mask: Tensor
    perm: Pose | None = None


def _act_point_features(g: tuple[Tensor, Tensor], f: PointFeatures) -> PointFeatures:
    """``(A, σ)·features``: the frame turns (``R₀ ↦ R_A R₀``), the centroid moves, per-point
    arrays are reordered (and the centred points turned), the permutation pose composes."""
    rot_g = rotation_part(g[0]).to(f.rotation.dtype)
    t_g = translation_part(g[0]).to(f.translation.dtype)
    scores, centred, mask = permute_set(g[1], (f.scores, f.centred @ rot_g.transpose(1, 2),
                                               f.mask))
    perm = None if f.perm is None else f.perm.replace(
        element=compose_permutations(g[1], f.perm.element))
    return PointFeatures(rot_g @ f.rotation, (rot_g @ f.translation[..., None])[..., 0] + t_g,
                         scores, centred, mask, perm)


point_features_action = Action(
    "move_point_features", _act_point_features, exact=True,
    groups=("SE2 × Sn", "E2 × Sn", "SE3 × Sn", "E3 × Sn"),
    note="rigid motion and reordering of the equivariant point-cloud features")


def rigid_pose_mismatch(a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """Per-sample differences of two ``(homogeneous, order)`` poses: ``rotation``
    ``‖R_a − R_b‖_F/√d``, ``translation`` ``‖t_a − t_b‖/‖t_b‖`` (relative) and ``order`` (1.0
    where the orders differ)."""
    ra, rb = rotation_part(a[0]).double(), rotation_part(b[0]).double()
    ta, tb = translation_part(a[0]).double(), translation_part(b[0]).double()
    d = ra.shape[-1]
    return {"rotation": (ra - rb).flatten(1).norm(dim=1) / d ** 0.5,
            "translation": (ta - tb).norm(dim=1) / tb.norm(dim=1).clamp_min(1e-12),
            "order": order_mismatch(a[1], b[1])}


def rigid_group_of_features(proper: bool) -> Callable[[PointFeatures], Any]:
    """``features -> SE(d) × S_n`` (or ``E(d) × S_n``) for the features of ``n`` points in
    ``d`` dimensions (d = 2 or 3)."""
    from ..groups import RigidMotions, SymmetricGroup, product

    def group(f: PointFeatures) -> Any:
        return product(RigidMotions(f.rotation.shape[-1], proper=proper),
                       SymmetricGroup(f.scores.shape[1]))
    return group


class RigidPermutationPose(nn.Module):
    """ξ for SE(d) × S_n or E(d) × S_n on point clouds (and molecules), d = 2 or 3.

    Reconstruction ``x̂ = Sᵀ (R ĉ + t)`` where ``ĉ`` is the decoded canonical element centred
    over its real slots, ``S`` the (relaxed) sorting matrix, ``R`` the frame and ``t`` the
    centroid. The dimension ``d`` is that of the features' frame; a canonical with more than
    ``d`` channels carries per-point features (e.g. atom type logits) after the coordinates;
    those are only permuted.

    Args:
        perm: the permutation head (SoftSort); used when the features carry no ``perm``.
        rotation: ``"frame"`` (``R = R₀``) or ``"procrustes"`` (``R`` refined by Kabsch
            alignment of ``S ĉ`` to ``S (x − t)``, see :func:`procrustes_rotation`).
        proper: SE(d) (True) or E(d) (False) for the Procrustes refinement.

    ``Pose.element`` is ``(homogeneous [[R, t], [0, 1]] (B, d+1, d+1), order (B, n))``, an
    element of ``product(RigidMotions(d, proper=...), SymmetricGroup(n))`` (``SE2()`` or
    ``SE3()`` for proper frames) acting by ``rigid_motion_and_permute_points``.
    """

    def __init__(self, perm: PermutationPose | None = None,
                 rotation: Literal["frame", "procrustes"] = "procrustes",
                 proper: bool = True) -> None:
        super().__init__()
        if rotation not in ("frame", "procrustes"):
            raise ValueError(f"rotation must be 'frame' or 'procrustes', got {rotation!r}")
        self.perm = perm or PermutationPose()
        self.rotation, self.proper = rotation, proper

    @property
    def symmetry(self) -> Symmetry:
        """SE(d) × S_n (``proper``) or E(d) × S_n acting on the features and the pose."""
        return self._symmetry if self.proper else self._symmetry_improper

    _symmetry = Symmetry(rigid_group_of_features(True), point_features_action,
                         output=compose_rigid_permutations,
                         observe=lambda p: (p.element[0], masked_order(p.element[1], p.mask)),
                         note="exact: (R, t, order) compose with the rigid motion and reordering",
                         measure=lambda a, b: rigid_pose_mismatch(a, b))
    _symmetry_improper = dataclasses.replace(_symmetry, group=rigid_group_of_features(False))

    def forward(self, feats: PointFeatures) -> Pose:
        perm = feats.perm if feats.perm is not None else self.perm(feats.scores, feats.mask)
        matrix = perm.matrix
        return self._pose(feats, perm, matrix, feats.rotation)

    def _pose(self, feats: PointFeatures, perm: Pose, matrix: Tensor, rot: Tensor) -> Pose:
        t, mask = feats.translation, feats.mask
        apply = _make_apply(matrix, rot, t, mask)
        refine = None
        if self.rotation == "procrustes" and rot is feats.rotation:
            def refine(canonical: Any) -> Pose:
                c = _centre_canonical(_coords(canonical, rot.shape[-1]), mask)
                target = _sorted_rows(matrix, feats.centred)
                new_rot = procrustes_rotation(c, target, _slot_mask(mask).to(c.dtype),
                                              proper=self.proper)
                return self._pose(feats, perm, matrix, new_rot)
        def invert(x: Any) -> Any:  # S·Rᵀ(x − t): the input in canonical pose
            pos = x[0] if isinstance(x, (tuple, list)) else x
            local = ((pos - t.to(pos.dtype)[:, None, :]) @ rot.to(pos.dtype)) * mask[
                ..., None].to(pos.dtype)
            if isinstance(x, (tuple, list)):
                return (sort_rows(matrix, local), *sort_parts(matrix, tuple(x[1:])))
            return sort_rows(matrix, local)

        return Pose(element=(homogeneous(rot, t), perm.element), apply=apply,
                    penalties=dict(perm.penalties), matrix=matrix, relaxed=perm.relaxed,
                    frame=feats.rotation, mask=mask, invert=invert, refine=refine)


def _coords(canonical: Any, d: int) -> Tensor:
    """The coordinates ``(B, n, d)`` of a decoded canonical ``(B, n, d + f)``."""
    if not isinstance(canonical, Tensor) or canonical.dim() != 3 or canonical.shape[-1] < d:
        raise ValueError(f"the decoded canonical point cloud must have shape (batch, n, {d} + f), "
                         f"got {getattr(canonical, 'shape', type(canonical).__name__)}")
    return canonical[..., :d]


def _slot_mask(mask: Tensor) -> Tensor:
    """Real slots of the canonical order: the first k, k = number of real points."""
    k = mask.sum(dim=1, keepdim=True)
    return torch.arange(mask.shape[1], device=mask.device)[None, :] < k


def _centre_canonical(c: Tensor, mask: Tensor) -> Tensor:
    slots = _slot_mask(mask)
    return (c - centroid(c, slots)[:, None, :]) * slots[..., None].to(c.dtype)


def _sorted_rows(matrix: Tensor, x: Tensor) -> Tensor:
    return matrix.to(x.dtype) @ x


def _make_apply(matrix: Tensor, rot: Tensor, t: Tensor, mask: Tensor) -> Callable[[Any], Tensor]:
    d = rot.shape[-1]

    def apply(canonical: Any) -> Tensor:
        c = _centre_canonical(_coords(canonical, d), mask)
        moved = c @ rot.to(c.dtype).transpose(1, 2) + t.to(c.dtype)[:, None, :]
        moved = moved * _slot_mask(mask)[..., None].to(c.dtype)
        if canonical.shape[-1] > d:
            moved = torch.cat([moved, canonical[..., d:]], dim=-1)
        return unsort_rows(matrix, moved)
    return apply
