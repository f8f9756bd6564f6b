"""Groups with batched tensor elements, their representations, and a registry by name.

>>> import torch
>>> from quotient.groups import SO3
>>> g = SO3().sample(4, generator=torch.Generator().manual_seed(0))
>>> g.shape
torch.Size([4, 3, 3])
"""

from __future__ import annotations

from collections.abc import Callable

from ._base import (
    DEFAULT_DTYPE,
    Element,
    FiniteGroup,
    Group,
    batch_size,
    cat_elements,
    element_to,
    index_element,
    repeat_element,
)
from .cyclic import CyclicGroup, CyclicShifts, CyclicShifts2d
from .dihedral import DihedralGroup
from .euclidean import (
    E2,
    E3,
    SE2,
    SE3,
    RigidMotions,
    Translations,
    homogeneous,
    rotation_part,
    translation_part,
)
from .product import DirectProduct, FiniteDirectProduct, product
from .representations import (
    Representation,
    act_on_maps,
    direct_sum,
    hom,
    permutation_representation,
    representation_from_function,
    representation_from_generators,
    representation_from_matrices,
    standard_representation,
    tensor,
)
from .so2 import SO2, rotation_matrix_2d, wrap_angle
from .so3 import O3, SO3, haar_rotations, quaternion_to_matrix, so3_generators
from .symmetric import SymmetricGroup, invert_permutation, permutation_matrix

GROUPS: dict[str, Callable[..., Group]] = {
    "SO2": SO2,
    "SO3": SO3,
    "O3": O3,
    "C": CyclicGroup,
    "D": DihedralGroup,
    "S": SymmetricGroup,
    "Z": CyclicShifts,
    "Z2d": CyclicShifts2d,
    "T": Translations,
    "SE2": SE2,
    "E2": E2,
    "SE3": SE3,
    "E3": E3,
}
"""Factories by name; parametrised ones take their size (``GROUPS["C"](4)``)."""


def get_group(spec: str) -> Group:
    """Build a group from a short name: ``"SO3"``, ``"C4"``, ``"D8"``, ``"S5"``, ``"Z28"``.

    Raises ``ValueError`` naming the valid forms for anything else.
    """
    spec = spec.strip()
    if spec in GROUPS and spec not in ("C", "D", "S", "Z", "T", "Z2d"):
        return GROUPS[spec]()
    for prefix in ("C", "D", "S", "Z", "T"):
        rest = spec[len(prefix):]
        if spec.startswith(prefix) and rest.isdigit() and int(rest) > 0:
            return GROUPS[prefix](int(rest))
    raise ValueError(
        f"unknown group {spec!r}; use one of SO2, SO3, O3, SE2, E2, SE3, E3, or Cn, Dn, Sn, Zn, Td "
        "with a positive integer (e.g. C4, S5)")


__all__ = [
    "DEFAULT_DTYPE", "E2", "E3", "GROUPS", "O3", "SE2", "SE3", "SO2", "SO3", "CyclicGroup",
    "CyclicShifts", "CyclicShifts2d", "DihedralGroup", "DirectProduct", "Element",
    "FiniteDirectProduct", "FiniteGroup", "Group", "Representation", "RigidMotions",
    "SymmetricGroup", "Translations", "act_on_maps", "batch_size", "cat_elements",
    "direct_sum", "element_to", "get_group", "haar_rotations", "hom", "homogeneous",
    "index_element", "invert_permutation", "permutation_matrix",
    "permutation_representation", "product", "representation_from_function",
    "representation_from_generators", "representation_from_matrices", "standard_representation",
    "quaternion_to_matrix", "repeat_element", "rotation_matrix_2d", "rotation_part",
    "so3_generators", "tensor", "translation_part", "wrap_angle",
]
