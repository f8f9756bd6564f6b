"""Equivariance versus augmentation: equivariant subspaces, admissible spaces, training
strategies (NOM, AUG, EQUI), drift from the equivariant subspace and stability.

A network's layers ``A_i`` live in an admissible space ``L`` (a support mask, a basis, a user
function); the group acts on layers by ``ρ̄(g) A = ρ_out(g) A ρ_in(g)⁻¹``; ``H_G`` are its fixed
points and ``E = L ∩ H_G``. See ``docs/dynamics.md`` for the mathematics and a walk-through.

A plain network (``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` and parameter-free layers) becomes
a subspace-parametrised one with :func:`convert`; :func:`compatibility_report`,
:func:`project_to_E`, :func:`fit_strategy` (NOM / AUG / EQUI through ``quotient.train.fit``),
:func:`lbfgs_in_E` and :func:`stationary_point`, :func:`hessian_blocks` and :func:`export` (back
to the plain modules) work on the result.

>>> import torch
>>> from quotient.groups import CyclicGroup
>>> from quotient.actions import rot90_image
>>> from quotient.dynamics import (CROSS, SKEW, LayerGeometry, MaskSpace, grid_representation,
...     identity_representation, solve_equivariant, support_mask, tensor)
>>> c4 = CyclicGroup(4)
>>> kernel = grid_representation(c4, rot90_image, 3)
>>> one = identity_representation(c4, 1)
>>> basis = solve_equivariant(tensor(one, kernel), one)
>>> basis.dim            # centre, edge ring, corner ring
3
>>> cross = LayerGeometry(MaskSpace((1, 1, 3, 3), support_mask(CROSS)), basis)
>>> skew = LayerGeometry(MaskSpace((1, 1, 3, 3), support_mask(SKEW)), basis)
>>> cross.compatibility().compatible, round(skew.commutator(), 3)
(True, 0.433)
"""

from ..actions import reverse_signal
from ..groups import tensor
from ._errors import SelfCheckError, SubspaceError
from .basis import BasisCache, EquivariantBasis
from .compare import Comparison, compare_strategies
from .conv import SubspaceConv1d, SubspaceConv2d
from .convert import KernelBasis, convert
from .diagnostics import LayerReport, NetworkReport, compatibility_report
from .examples import Z2Example, population_risk, z2_example
from .fitting import DynamicsFit, fit_strategy, projected_optimizer
from .geometry import CompatibilityReport, LayerGeometry
from .layers import (
    SubspaceBias,
    SubspaceLayer,
    SubspaceLinear,
    compatibility,
    distance_to_E,
    export,
    flat_weights,
    project_to_E,
    subspace_layers,
    substituted_coefficients,
)
from .models import CNNSpec, equivariance_cnn, subspace_mlp
from .reps import (
    channel_image_action,
    copies,
    grid_representation,
    identity_representation,
    permutation_representation,
    representation_action,
    representation_from_function,
    representation_from_generators,
    representation_from_matrices,
    spatial_representation,
    standard_representation,
    trivial_representation,
)
from .solver import (
    character_dimension,
    constraint_matrices,
    reynolds,
    solve_equivariant,
)
from .spaces import (
    CROSS,
    SKEW,
    AdmissibleSpace,
    BasisSpace,
    KernelBasisSpace,
    MaskSpace,
    function_space,
    non_orthonormal_kernel_basis,
    support_mask,
)
from .stability import (
    GrowthReport,
    LocalModel,
    StabilityReport,
    hessian_blocks,
    perturbation_growth,
)
from .stationary import (
    NonStationaryError,
    NonStationaryWarning,
    StationaryResult,
    lbfgs_in_E,
    stationary_point,
)
from .training import (
    AUG,
    AUG_STOCHASTIC,
    EQUI,
    NOM,
    Objective,
    Strategy,
    Symmetry,
    Trajectory,
    regulariser,
    train,
)

__all__ = [
    "AUG", "AUG_STOCHASTIC", "CROSS", "EQUI", "NOM", "SKEW", "AdmissibleSpace", "BasisCache",
    "BasisSpace", "CNNSpec", "CompatibilityReport", "DynamicsFit", "EquivariantBasis",
    "GrowthReport", "KernelBasis", "KernelBasisSpace", "LayerGeometry", "LayerReport",
    "LocalModel", "MaskSpace", "NetworkReport", "NonStationaryError", "NonStationaryWarning",
    "Objective", "SelfCheckError", "StabilityReport", "StationaryResult", "Strategy",
    "SubspaceBias", "SubspaceConv1d",
    "SubspaceConv2d", "SubspaceError", "SubspaceLayer", "SubspaceLinear", "Symmetry",
    "Trajectory", "Z2Example", "Comparison", "channel_image_action", "character_dimension",
    "compare_strategies", "compatibility", "compatibility_report", "constraint_matrices",
    "convert", "copies", "fit_strategy", "projected_optimizer", "stationary_point",
    "distance_to_E", "equivariance_cnn", "export", "flat_weights", "function_space",
    "grid_representation", "hessian_blocks", "identity_representation",
    "lbfgs_in_E", "non_orthonormal_kernel_basis", "permutation_representation",
    "perturbation_growth",
    "population_risk", "project_to_E", "regulariser", "representation_action",
    "representation_from_function", "representation_from_generators",
    "representation_from_matrices", "reverse_signal", "reynolds", "solve_equivariant",
    "spatial_representation", "standard_representation", "subspace_layers", "subspace_mlp",
    "substituted_coefficients", "support_mask", "tensor", "train", "trivial_representation",
    "z2_example",
]
