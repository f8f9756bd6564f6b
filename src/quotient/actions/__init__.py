"""Group actions on data kinds, each a named :class:`Action` labelled exact or approximate.

Every action is called as ``act(g, x)`` with one group element per sample in the batch.
"""

from ._core import Action, identity_action
from .images import (
    dihedral_image,
    disc_mask,
    flip_image,
    roll_image,
    rot90_image,
    rotate_image,
)
from .sets import (
    act_molecule,
    compose_permutations,
    compose_rigid_permutations,
    permute_graph,
    permute_point_features,
    permute_points,
    permute_set,
    rigid_motion,
    rigid_motion_and_permute_points,
    rotate_points,
    translate_points,
)
from .signals import reverse_signal, roll_signal

__all__ = [
    "Action", "act_molecule", "compose_permutations", "compose_rigid_permutations",
    "dihedral_image", "disc_mask", "flip_image", "identity_action",
    "permute_graph", "permute_point_features", "permute_points", "permute_set",
    "reverse_signal", "rigid_motion",
    "rigid_motion_and_permute_points", "roll_image", "roll_signal", "rot90_image",
    "rotate_image", "rotate_points", "translate_points",
]
