"""Networks built from subspace layers: the C4/D4 CNN of the paper and equivariant-ready MLPs.

The CNN is ``[conv 3×3 → (AvgPool 2) → tanh → LayerNorm]ⁿ → flatten → linear``, no biases,
LayerNorm without affine parameters over ``(C, H, W)``. With trivial channels the group acts on
feature maps by moving pixels only (``E`` = rotation-symmetric filters); with regular channels it
also permutes the orientation channels. Every nonlinearity is equivariant, so a network whose
layers are all in ``E`` is exactly invariant (float64, up to rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..actions import dihedral_image, rot90_image
from ..groups import CyclicGroup, DihedralGroup, FiniteGroup, Representation, tensor
from ._errors import SubspaceError
from .conv import SubspaceConv2d
from .layers import SubspaceLinear
from .reps import copies, grid_representation, identity_representation
from .solver import BasisCache
from .spaces import CROSS, SKEW, non_orthonormal_kernel_basis
from .training import Symmetry

SUPPORTS = {"cross": CROSS, "skew": SKEW,
            "full": tuple((r, c) for r in range(3) for c in range(3))}


@dataclass(frozen=True)
class CNNSpec:
    """Architecture of :func:`equivariance_cnn`.

    Attributes:
        channels: ``(c_0, c_1, …, c_n)`` with ``c_0`` the image channels.
        image_size: side of the square input images.
        pools: after which convolutions to average-pool by 2 (the grid must be even there).
        n_classes: outputs of the final (invariant) linear layer.
        support: ``"cross"``, ``"skew"`` or ``"full"`` 3×3 filter support.
        basis: ``"orthonormal"`` (coordinates on the support) or ``"non-orthonormal"`` (a fixed
            random mixing of them, the same for every filter).
        channel_rep: ``"trivial"`` or ``"regular"`` hidden channels (regular needs multiples
            of ``|G|``).
        group: ``"C4"`` (rot90) or ``"D4"`` (rot90 and flips).
    """

    channels: Sequence[int] = (1, 4, 8, 8)
    image_size: int = 28
    pools: Sequence[bool] = (True, True, False)
    n_classes: int = 10
    support: str = "cross"
    basis: str = "orthonormal"
    channel_rep: str = "trivial"
    group: str = "C4"


def _group(name: str) -> tuple[FiniteGroup, object]:
    if name == "C4":
        return CyclicGroup(4), rot90_image
    if name == "D4":
        return DihedralGroup(4), dihedral_image
    raise SubspaceError(f"group must be 'C4' or 'D4', got {name!r}")


def equivariance_cnn(spec: CNNSpec, *, generator: torch.Generator | None = None,
                     cache: BasisCache | None = None, dtype: torch.dtype = torch.float64) -> \
        tuple[nn.Sequential, Symmetry]:
    """Build the CNN and the symmetry of its task (images move, class scores are invariant).

    The non-orthonormal kernel basis is drawn from ``generator`` once, before the weights.

    Raises:
        SubspaceError: unknown support/basis/channel kind, a pool on an odd grid, channels
            that are not multiples of ``|G|`` for regular channels.
    """
    if spec.support not in SUPPORTS:
        raise SubspaceError(f"support must be one of {sorted(SUPPORTS)}, got {spec.support!r}")
    if spec.basis not in ("orthonormal", "non-orthonormal"):
        raise SubspaceError(f"basis must be 'orthonormal' or 'non-orthonormal', got {spec.basis!r}")
    if spec.channel_rep not in ("trivial", "regular"):
        raise SubspaceError(f"channel_rep must be 'trivial' or 'regular', got "
                            f"{spec.channel_rep!r}")
    if len(spec.pools) != len(spec.channels) - 1:
        raise SubspaceError(f"pools has {len(spec.pools)} entries for "
                            f"{len(spec.channels) - 1} convolutions")
    group, action = _group(spec.group)
    kernel = grid_representation(group, action, 3)  # type: ignore[arg-type]
    positions = SUPPORTS[spec.support]
    kernel_basis = None
    if spec.basis == "non-orthonormal":
        kernel_basis = non_orthonormal_kernel_basis(positions, 3, generator=generator)

    def channel_rep(c: int, first: bool) -> Representation:
        if first or spec.channel_rep == "trivial":
            return identity_representation(group, c)
        if c % group.order:
            raise SubspaceError(f"{c} channels is not a multiple of |G| = {group.order}")
        return copies(group.rep("regular"), c // group.order)

    mods: list[nn.Module] = []
    size = spec.image_size
    ch_in = channel_rep(spec.channels[0], True)
    for c_out, pool in zip(spec.channels[1:], spec.pools, strict=True):
        ch_out = channel_rep(c_out, False)
        mods.append(SubspaceConv2d(ch_in, ch_out, kernel, support=positions,
                                   kernel_basis=kernel_basis, cache=cache, dtype=dtype,
                                   generator=generator))
        if pool:
            if size % 2:
                raise SubspaceError(f"cannot pool a {size}x{size} grid exactly; use even sizes")
            mods.append(nn.AvgPool2d(2))
            size //= 2
        mods += [nn.Tanh(), nn.LayerNorm([c_out, size, size], elementwise_affine=False,
                                         dtype=dtype)]
        ch_in = ch_out
    grid = grid_representation(group, action, size)  # type: ignore[arg-type]
    mods += [nn.Flatten(), SubspaceLinear(tensor(ch_in, grid),
                                          identity_representation(group, spec.n_classes),
                                          cache=cache, dtype=dtype, generator=generator)]
    return nn.Sequential(*mods), Symmetry(group, action)  # type: ignore[arg-type]


def subspace_mlp(reps: Sequence[Representation], *, bias: bool = True,
                 activation: type[nn.Module] = nn.Tanh, cache: BasisCache | None = None,
                 dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> nn.Sequential:
    """``Linear(ρ_0 → ρ_1) → σ → … → Linear(ρ_{n−1} → ρ_n)`` with whole-space ``L``.

    The hidden representations must make ``activation`` equivariant (permutation
    representations for pointwise nonlinearities).
    """
    if len(reps) < 2:
        raise SubspaceError("an MLP needs at least an input and an output representation")
    mods: list[nn.Module] = []
    for i, (r_in, r_out) in enumerate(zip(reps[:-1], reps[1:], strict=True)):
        mods.append(SubspaceLinear(r_in, r_out, bias=bias, cache=cache, dtype=dtype,
                                   generator=generator))
        if i < len(reps) - 2:
            mods.append(activation())
    return nn.Sequential(*mods)
