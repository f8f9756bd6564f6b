"""How a group moves the cells of a grid, and when convolutions and pools commute with it.

**Centred coordinates.** Cell ``i`` of an axis of length ``n`` sits at ``c = i − (n − 1)/2``. An
action is *centred* if every element moves every cell by one signed permutation matrix of the
axes, ``c ↦ M(g) c``: rot90, flips, transposes of images, the reversal of a signal. Such an
action moves a convolution kernel by the same ``M``, so an equivariant convolution is one whose
filters lie in ``Hom_G(ρ_in ⊗ ρ_K, ρ_out)`` with ``ρ_K`` the kernel's cell permutation.

**Sampling.** A convolution or pool with kernel ``k``, stride ``s`` and zero padding ``p`` on an
axis of length ``n`` has ``o = ⌊(n + 2p − k)/s⌋ + 1`` outputs; output ``u`` reads input cells
``u·s − p + j``. In centred coordinates that is ``v = s·u + κ + δ`` with kernel offset ``κ`` and
``δ = −((n + 2p − k) mod s)/2``. Moving the input by ``M`` moves the output by ``M`` iff
``M δ = δ`` and axes exchanged by ``M`` have the same ``(n, k, s, p)``: for a reflected or
rotated axis, ``(n + 2p − k)`` must be a multiple of ``s``. A 13×13 image with a 3×3 kernel,
stride 2 and padding 1 qualifies (``12 = 6·2``); 14×14 does not (the last row is sampled, the
first is not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..actions import Action
from ..groups import Group
from ._errors import SubspaceError
from .reps import spatial_representation

PROBE = 5
"""Side of the probe grid on which the motion matrices are read off."""


def _centred(shape: tuple[int, ...]) -> Tensor:
    axes = [torch.arange(n, dtype=torch.float64) - (n - 1) / 2 for n in shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)  # (cells, d), row-major


def _moves(group: Group, action: Action, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Centred coordinates of every cell and of its image under each discrete generator."""
    mats = spatial_representation(group, action, shape).discrete_generators()
    dst = mats.argmax(dim=1)  # column p holds its 1 at the row of p's image
    c = _centred(shape)
    return c, c[dst]  # (cells, d), (m, cells, d)


@dataclass(frozen=True)
class GridMotion:
    """A centred action: ``M(h)`` for each discrete generator ``h``, ``(m, d, d)``."""

    action: Action
    group: Group
    matrices: Tensor

    @property
    def ndim(self) -> int:
        """Number of grid axes ``d``."""
        return int(self.matrices.shape[-1])

    def check(self, shape: Sequence[int], what: str) -> None:
        """Raise unless the action moves the cells of a grid of ``shape`` by ``M``."""
        shape = tuple(int(v) for v in shape)
        c, moved = _moves(self.group, self.action, shape)
        err = (moved - c @ self.matrices.transpose(1, 2)).abs()
        if err.numel() and float(err.max()) > 1e-9:
            raise SubspaceError(f"{what}: {self.action.name} does not move a "
                                f"{'x'.join(map(str, shape))} grid like the input grid")

    def sampling(self, shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 padding: Sequence[int], what: str) -> tuple[int, ...]:
        """The output grid of a convolution or pool on ``shape``; raises when the sampled
        cells are not symmetric (see the module docstring)."""
        n, k, s, p = (tuple(int(v) for v in t) for t in (shape, kernel, stride, padding))
        if any(ni + 2 * pi < ki for ni, ki, pi in zip(n, k, p, strict=True)):
            raise SubspaceError(f"{what}: kernel {k} is larger than the padded {n} grid")
        out = tuple((ni + 2 * pi - ki) // si + 1 for ni, ki, si, pi in zip(n, k, s, p,
                                                                        strict=True))
        delta = torch.tensor([-((ni + 2 * pi - ki) % si) / 2 for ni, ki, si, pi in
                              zip(n, k, s, p, strict=True)], dtype=torch.float64)
        for m in self.matrices:
            for a in range(self.ndim):
                b = int(m[:, a].abs().argmax())  # axis a is carried to axis b
                if b != a and (n[a], k[a], s[a], p[a]) != (n[b], k[b], s[b], p[b]):
                    raise SubspaceError(
                        f"{what}: {self.action.name} exchanges grid axes {a} and {b}, which have "
                        f"different (size, kernel, stride, padding) {(n[a], k[a], s[a], p[a])} "
                        f"and {(n[b], k[b], s[b], p[b])}; make them equal (square images and "
                        "kernels)")
            if float((m @ delta - delta).abs().max()) > 0:
                bad = int((m @ delta - delta).abs().argmax())
                raise SubspaceError(
                    f"{what}: stride {s[bad]} with padding {p[bad]} and kernel {k[bad]} on a grid "
                    f"of {n[bad]} cells samples cells that {self.action.name} does not map to "
                    f"sampled cells: (size + 2·padding − kernel) = {n[bad] + 2 * p[bad] - k[bad]}"
                    f" is not a multiple of the stride. Change the padding or the input size so "
                    "that it is (e.g. 13x13 inputs for a 3x3 kernel, stride 2, padding 1)")
        return out


def grid_motion(group: Group, action: Action, shape: Sequence[int], what: str) -> GridMotion:
    """Read ``M(h)`` off a probe grid and check it on the grid of ``shape``.

    Raises:
        SubspaceError: the action is not centred (e.g. a cyclic shift), or acts differently on
            ``shape`` (e.g. rot90 on a non-square grid).
    """
    shape = tuple(int(v) for v in shape)
    d = len(shape)
    try:
        c, moved = _moves(group, action, (PROBE,) * d)
    except SubspaceError:
        c, moved = _moves(group, action, shape)
    mats = []
    for img in moved:
        m = torch.linalg.lstsq(c, img).solution.T  # img = c Mᵀ
        m = torch.round(m)
        signed_perm = bool((m.abs().sum(0) == 1).all()) and bool((m.abs().sum(1) == 1).all())
        if not signed_perm or float((img - c @ m.T).abs().max()) > 1e-9:
            raise SubspaceError(
                f"{what}: {action.name} does not rotate or reflect the grid about its centre "
                "(cyclic shifts, for instance, do not); convert handles convolutions and pools "
                "under centred actions such as rot90_image, flip_image, dihedral_image and "
                "reverse_signal")
        mats.append(m)
    motion = GridMotion(action, group, torch.stack(mats) if mats else
                        torch.zeros(0, d, d, dtype=torch.float64))
    motion.check(shape, what)
    return motion


def resolve_padding(padding: int | Sequence[int] | str, kernel: Sequence[int],
                    what: str) -> tuple[int, ...]:
    """Numeric per-axis padding of ``padding`` (an int, a tuple, ``"valid"`` or ``"same"``)."""
    kernel = tuple(int(k) for k in kernel)
    if padding == "valid":
        return (0,) * len(kernel)
    if padding == "same":
        if any(k % 2 == 0 for k in kernel):
            raise SubspaceError(f"{what}: padding='same' with the even kernel {kernel} pads one "
                                "side more than the other, which no rotation or reflection "
                                "preserves; use an odd kernel or explicit padding")
        return tuple(k // 2 for k in kernel)
    if isinstance(padding, str):
        raise SubspaceError(f"{what}: unknown padding {padding!r}")
    out = (int(padding),) * len(kernel) if isinstance(padding, int) else tuple(
        int(p) for p in padding)
    if len(out) != len(kernel):
        raise SubspaceError(f"{what}: padding {padding!r} does not fit a {len(kernel)}-d kernel")
    return out


def adaptive_output(shape: Sequence[int], size: int | Sequence[int | None]) -> tuple[int, ...]:
    """Output grid of an adaptive pool (``None`` keeps an axis). Its bins
    ``[⌊iN/O⌋, ⌈(i+1)N/O⌉)`` are symmetric under reversal, so it commutes with every centred
    action that maps the output grid to itself."""
    sizes = [size] * len(shape) if isinstance(size, int) else list(size)
    return tuple(n if o is None else int(o) for n, o in zip(shape, sizes, strict=True))


def cells(shape: Sequence[int]) -> int:
    """Number of cells of a grid."""
    return math.prod(int(v) for v in shape)
