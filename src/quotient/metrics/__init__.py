"""Evaluation metrics shared by every experiment.

* :mod:`~quotient.metrics.report` — :func:`symmetry_report`, the one report of a GIAE's
  exact and approximate symmetry (code, pose, reconstruction; float32 and float64).
* :mod:`~quotient.metrics.symmetry` — invariance error of codes, pose equivariance error,
  canonicalisation consistency (any group, any action).
* :mod:`~quotient.metrics.representation` — reconstruction MSE, kNN and linear-probe accuracy,
  2-d embeddings for plots.
* :mod:`~quotient.metrics.sets` — element and set accuracy, RMSD, equivariance of rigid and
  permutation poses.
* :mod:`~quotient.metrics.canonical_emd` — how consistent a canonicaliser of point clouds is:
  the earth mover's distance between canonical forms of a cloud and of its rigidly moved,
  relabelled copies.
* :mod:`~quotient.metrics.clustering` — clustering accuracy of codes: Ward clusters matched
  one-to-one to the classes (Hungarian algorithm).
* :mod:`~quotient.metrics.point_groups` — rank, symmetry operations and Schoenflies point group
  of a typed point cloud (a molecule).
"""

from .canonical_emd import canonical_emd, earth_movers_distance
from .clustering import clustering_accuracy, matched_accuracy
from .point_groups import point_group
from .report import EmbeddingView, SymmetryReport, symmetry_report
from .representation import embed_2d, knn_accuracy, linear_probe_accuracy, reconstruction_mse
from .sets import element_accuracy, permutation_recovery, rigid_pose_errors, rmsd, set_accuracy
from .symmetry import (
    angle_error_deg,
    apply_batched,
    canonicalisation_error,
    code_spread,
    invariance_error,
    pose_error,
    shift_error,
)

__all__ = [
    "angle_error_deg", "apply_batched", "canonicalisation_error", "code_spread", "embed_2d",
    "invariance_error", "knn_accuracy", "linear_probe_accuracy", "pose_error",
    "reconstruction_mse", "shift_error",
    "element_accuracy", "permutation_recovery", "rigid_pose_errors", "rmsd", "set_accuracy",
    "EmbeddingView", "SymmetryReport", "symmetry_report",
    "canonical_emd", "earth_movers_distance", "point_group",
    "clustering_accuracy", "matched_accuracy",
]
