"""Group convolutions over the cube's rotation group O (24 elements) on 3-d voxel grids.

Features on the group ("regular fields") are 6-d tensors ``f (B, F, 24, n, n, n)``: ``F``
fields, each a function on O × grid. O acts on them by rotating space and permuting the group
axis with the left-regular representation,

    (u·f)[c, g](p) = f[c, u⁻¹g](u⁻¹p)                                   (:data:`cube_regular_field`)

and on volumes ``x (B, C, n, n, n)`` by ``(u·x)(p) = x(u⁻¹p)`` (exact voxel permutations,
:data:`~quotient.actions.volumes.cube_rotate_volume`). Correlation ``(W ⋆ x)(p) = Σ_q W(q)
x(p + q)`` with a centred odd kernel and "same" zero padding commutes with these permutations
once the filter is rotated too, which gives the layers:

* :class:`CubeLiftConv3d` — volumes to regular fields, ``f[c, g] = Σ_c' (g·W[c, c']) ⋆ x[c']``
  (24 rotated copies of every filter);
* :class:`CubeGroupConv3d` — regular to regular fields,
  ``f'[c, g] = Σ_{c', h} (g·W[c, c', g⁻¹h]) ⋆ f[c', h]`` (filters indexed by the group, their
  group index permuted by the regular representation); with ``kernel_size=1`` a cheap mixing
  over the group;
* :class:`CubeSpatialConv3d` — the group-diagonal part, ``f'[c, g] = Σ_c' (g·W[c, c']) ⋆
  f[c', g]`` (each orientation with its own rotated filter, a grouped convolution); followed by
  a ``kernel_size=1`` :class:`CubeGroupConv3d` it is a separable group convolution at a
  fraction of the cost of a full one;
* :func:`cube_avg_pool` (2×2×2 blocks on an even grid — the blocks map onto blocks under O)
  and :class:`FieldNorm` (batch normalisation per field, statistics over group and space).

Each layer computes the same products for a rotated input as for the original, summed in
another order, so it is equivariant to rounding (~1e-16 relative in float64). Pointwise
nonlinearities commute with the permutations and need no care.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import Action
from ..actions._core import check_batch
from ..actions.volumes import cube_rotate_volume
from ..errors import DataError
from ..groups.cube import CubeRotations
from ..symmetry import Symmetry

__all__ = ["CubeGroupConv3d", "CubeLiftConv3d", "CubeSpatialConv3d", "FieldNorm",
           "check_volumes", "cube_avg_pool", "cube_regular_field", "group_tables",
           "rotated_filters"]

ORDER = 24


def check_volumes(x: Tensor, channels: int | None = None, size: int | None = None,
                  what: str = "volumes") -> None:
    """Raise a :class:`~quotient.errors.DataError` (a ``ValueError``) naming the problem and
    the fix unless ``x`` is a finite floating-point batch of cubic grids ``(B, C, n, n, n)``
    (with ``C = channels`` and ``n = size`` when given); ``TypeError`` for a non-tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected a tensor (batch, channels, n, n, n), got "
                        f"{type(x).__name__}")
    if x.dim() != 5:
        hint = {4: "; add the channel axis with x[:, None] (or the batch axis with x[None])",
                3: "; add batch and channel axes with x[None, None]"}.get(x.dim(), "")
        raise DataError(f"{what}: expected a 5-d tensor (batch, channels, n, n, n), got rank "
                        f"{x.dim()} with shape {tuple(x.shape)}{hint}")
    d, h, w = x.shape[-3:]
    if not d == h == w:
        raise DataError(f"{what}: the grid must be cubic (n × n × n), got {d} × {h} × {w}; pad "
                        "every side to the largest one (torch.nn.functional.pad) or resample "
                        "(torch.nn.functional.interpolate)")
    if not x.is_floating_point():
        raise DataError(f"{what}: voxel values must be floating point, got {x.dtype}; convert "
                        "with x.float()")
    if channels is not None and x.shape[1] != channels:
        raise DataError(f"{what}: the model expects {channels} channel(s), got {x.shape[1]} "
                        f"(shape {tuple(x.shape)})")
    if size is not None and d != size:
        raise DataError(f"{what}: the model expects {size}³ grids, got {d}³; resample with "
                        f"torch.nn.functional.interpolate(x, size={size}, mode='trilinear')")
    bad = ~torch.isfinite(x)
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} voxel value(s) are NaN or infinite (in "
                        f"{int(bad.flatten(1).any(1).sum())} volume(s)); replace them, e.g. "
                        "torch.nan_to_num(x, nan=0.0)")


def group_tables() -> tuple[Tensor, Tensor]:
    """The elements ``(24, 3, 3)`` float64 and ``J (24, 24)`` int64 with
    ``J[g, h] = index(g⁻¹h)``: the group index the filter of a group convolution reads."""
    elems, table = _tables()
    return elems.clone(), table.clone()


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[Tensor, Tensor]:
    group = CubeRotations()
    elems = group.elements()
    inv = elems.transpose(1, 2)
    prod = inv[:, None] @ elems[None]  # (g, h) -> g⁻¹h, exact for signed permutations
    return elems, group.index(prod.reshape(-1, 3, 3)).reshape(ORDER, ORDER)


def rotated_filters(weight: Tensor) -> Tensor:
    """Every filter rotated by every element of O: ``(..., k, k, k) -> (24, ..., k, k, k)``,
    entry ``g`` being ``g·W`` (exact voxel permutations of the filters)."""
    lead, k = weight.shape[:-3], weight.shape[-1]
    elems = _tables()[0].to(weight.device)
    flat = weight.reshape(1, -1, k, k, k).expand(ORDER, -1, k, k, k)
    return cube_rotate_volume(elems, flat).reshape(ORDER, *lead, k, k, k)


def _act_regular(u: Tensor, f: Tensor) -> Tensor:
    """``(u·f)[c, g](p) = f[c, u⁻¹g](u⁻¹p)`` on ``f (B, F, 24, n, n, n)``."""
    check_batch(u, f, "cube_regular_field")
    if f.dim() != 6 or f.shape[2] != ORDER:
        raise ValueError(f"cube_regular_field: expected regular fields (batch, fields, 24, n, n, "
                         f"n), got {tuple(f.shape)}")
    b, c, _, n = f.shape[:4]
    group = CubeRotations()
    elems = group.elements(dtype=torch.float64, device=f.device)
    ui = group.index(u.double().to(f.device))
    # the index of u⁻¹g for every sample and g
    src = group.index((elems[ui].transpose(1, 2)[:, None] @ elems[None]).reshape(-1, 3, 3))
    src = src.reshape(b, ORDER)
    permuted = f.gather(2, src[:, None, :, None, None, None].expand_as(f))
    turned = cube_rotate_volume(u, permuted.reshape(b, c * ORDER, n, n, n))
    return turned.reshape(f.shape)


cube_regular_field = Action(
    "cube_regular_field", _act_regular, exact=True, groups=("O",),
    note="rotate space by u and permute the group axis, (u·f)[g] = f[u⁻¹g]")

"""The regular action of the cube group on fields over the group: space rotated by ``u``,
the group axis permuted, ``(u·f)[g] = f[u⁻¹g]``."""


def _kaiming(shape: tuple[int, ...], fan_in: int) -> Tensor:
    return torch.randn(shape) * math.sqrt(2.0 / fan_in)


def _check_kernel(kernel_size: int, stride: int = 1) -> None:
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    if stride == 1 and (kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError(f"kernel_size must be odd and positive (a centred filter is what the "
                         f"rotations map onto itself), got {kernel_size}")
    if stride == 2 and (kernel_size < 2 or kernel_size % 2):
        raise ValueError(f"a stride-2 kernel must be even (it is centred between voxels, on "
                         f"the centre of a 2×2×2 block), got {kernel_size}")


def _padding(kernel_size: int, stride: int) -> int:
    """Zero padding that keeps the sampled points symmetric about the grid centre: ``k // 2``
    for stride 1 ("same"), ``k/2 − 1`` for stride 2 (output ``o`` centred on the input block
    ``2o, 2o + 1``, so an even ``n`` maps to ``n/2``)."""
    return kernel_size // 2 if stride == 1 else kernel_size // 2 - 1


def _check_even(n: int, stride: int, what: str) -> None:
    if stride == 2 and n % 2:
        raise ValueError(f"{what}: a stride-2 layer needs an even grid, got {n}³")


def _as_volumes(f: Tensor) -> Tensor:
    return f.reshape(f.shape[0], -1, *f.shape[-3:])


def _check_fields(f: Tensor, fields: int, what: str) -> None:
    if f.dim() != 6 or f.shape[1] != fields or f.shape[2] != ORDER:
        raise ValueError(f"{what}: expected regular fields (batch, {fields}, 24, n, n, n), got "
                         f"{tuple(f.shape)}")


class CubeLiftConv3d(nn.Module):
    """Volumes ``(B, C, n, n, n)`` -> regular fields ``(B, F, 24, m, m, m)``:
    ``f[c, g] = b_c + Σ_c' (g·W[c, c']) ⋆ x[c']``; ``stride=1`` with an odd ``kernel_size``
    ("same" padding, ``m = n``) or ``stride=2`` with an even one (``m = n/2``, each output
    centred on a 2×2×2 block of the input, so the sampled points stay symmetric)."""

    def __init__(self, in_channels: int, out_fields: int, kernel_size: int = 3,
                 bias: bool = True, stride: int = 1) -> None:
        super().__init__()
        _check_kernel(kernel_size, stride)
        self.in_channels, self.out_fields, self.kernel_size = in_channels, out_fields, kernel_size
        self.stride = stride
        fan_in = in_channels * kernel_size ** 3
        self.weight = nn.Parameter(_kaiming((out_fields, in_channels, *(kernel_size,) * 3),
                                            fan_in))
        self.bias = nn.Parameter(torch.zeros(out_fields)) if bias else None

    @property
    def symmetry(self) -> Symmetry:
        return Symmetry(CubeRotations(), cube_rotate_volume, output=cube_regular_field,
                        note="exact: filters rotated by exact voxel permutations")

    def expanded_weight(self) -> Tensor:
        """The conv3d weight ``(F·24, C, k, k, k)``, output channels ordered ``(field, g)``."""
        w = rotated_filters(self.weight)  # (24, F, C, k, k, k)
        return w.transpose(0, 1).reshape(-1, *self.weight.shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        check_volumes(x, self.in_channels, what=type(self).__name__)
        _check_even(x.shape[-1], self.stride, type(self).__name__)
        bias = None if self.bias is None else self.bias.repeat_interleave(ORDER)
        out = F.conv3d(x, self.expanded_weight(), bias, stride=self.stride,
                       padding=_padding(self.kernel_size, self.stride))
        return out.reshape(x.shape[0], self.out_fields, ORDER, *out.shape[-3:])


class CubeGroupConv3d(nn.Module):
    """Regular fields ``(B, F_in, 24, n³)`` -> ``(B, F_out, 24, n³)``:
    ``f'[c, g] = b_c + Σ_{c', h} (g·W[c, c', g⁻¹h]) ⋆ f[c', h]``.

    Cost per voxel ``F_in·F_out·24²·k³``; ``kernel_size=1`` mixes fields and orientations only
    (the partner of :class:`CubeSpatialConv3d`)."""

    def __init__(self, in_fields: int, out_fields: int, kernel_size: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        _check_kernel(kernel_size)
        self.in_fields, self.out_fields, self.kernel_size = in_fields, out_fields, kernel_size
        fan_in = in_fields * ORDER * kernel_size ** 3
        self.weight = nn.Parameter(_kaiming((out_fields, in_fields, ORDER,
                                             *(kernel_size,) * 3), fan_in))
        self.bias = nn.Parameter(torch.zeros(out_fields)) if bias else None
        self.register_buffer("table", group_tables()[1], persistent=False)

    @property
    def symmetry(self) -> Symmetry:
        return Symmetry(CubeRotations(), cube_regular_field, output=cube_regular_field,
                        note="exact: regular-representation group convolution")

    def expanded_weight(self) -> Tensor:
        """The conv3d weight ``(F_out·24, F_in·24, k, k, k)``: rows ``(c, g)``, columns
        ``(c', h)``, entry ``g·W[c, c', g⁻¹h]``."""
        fo, fi, k = self.out_fields, self.in_fields, self.kernel_size
        w = self.weight[:, :, self.table]  # (F_out, F_in, g, h, k, k, k) = W[c, c', g⁻¹h]
        w = w.permute(2, 0, 1, 3, 4, 5, 6)  # g first, to rotate by g
        if k > 1:
            elems = _tables()[0].to(w.device)
            flat = w.reshape(ORDER, fo * fi * ORDER, k, k, k)
            w = cube_rotate_volume(elems.to(w.device), flat).reshape(w.shape)
        return w.permute(1, 0, 2, 3, 4, 5, 6).reshape(fo * ORDER, fi * ORDER, k, k, k)

    def forward(self, f: Tensor) -> Tensor:
        _check_fields(f, self.in_fields, type(self).__name__)
        bias = None if self.bias is None else self.bias.repeat_interleave(ORDER)
        out = F.conv3d(_as_volumes(f), self.expanded_weight(), bias,
                       padding=self.kernel_size // 2)
        return out.reshape(f.shape[0], self.out_fields, ORDER, *out.shape[-3:])


class CubeSpatialConv3d(nn.Module):
    """The group-diagonal convolution ``f'[c, g] = b_c + Σ_c' (g·W[c, c']) ⋆ f[c', g]`` on
    regular fields (one rotated filter bank per orientation, a conv3d with ``groups=24``).

    Cost per voxel ``F_in·F_out·24·k³``, a 24th of :class:`CubeGroupConv3d` with the same
    kernel; orientations are mixed by a following ``kernel_size=1`` group convolution.
    ``stride=2`` with an even kernel halves an even grid (as :class:`CubeLiftConv3d`)."""

    def __init__(self, in_fields: int, out_fields: int, kernel_size: int = 3,
                 bias: bool = True, stride: int = 1) -> None:
        super().__init__()
        _check_kernel(kernel_size, stride)
        self.in_fields, self.out_fields, self.kernel_size = in_fields, out_fields, kernel_size
        self.stride = stride
        fan_in = in_fields * kernel_size ** 3
        self.weight = nn.Parameter(_kaiming((out_fields, in_fields, *(kernel_size,) * 3),
                                            fan_in))
        self.bias = nn.Parameter(torch.zeros(out_fields)) if bias else None

    @property
    def symmetry(self) -> Symmetry:
        return Symmetry(CubeRotations(), cube_regular_field, output=cube_regular_field,
                        note="exact: each orientation's filter rotated by that orientation")

    def forward(self, f: Tensor) -> Tensor:
        _check_fields(f, self.in_fields, type(self).__name__)
        b, n = f.shape[0], f.shape[-1]
        _check_even(n, self.stride, type(self).__name__)
        w = rotated_filters(self.weight)  # (24, F_out, F_in, k, k, k)
        w = w.reshape(ORDER * self.out_fields, self.in_fields, *w.shape[-3:])
        x = f.transpose(1, 2).reshape(b, ORDER * self.in_fields, n, n, n)  # channels (g, c')
        bias = None if self.bias is None else self.bias.repeat(ORDER)
        out = F.conv3d(x, w, bias, stride=self.stride,
                       padding=_padding(self.kernel_size, self.stride), groups=ORDER)
        return out.reshape(b, ORDER, self.out_fields, *out.shape[-3:]).transpose(1, 2)


class FieldNorm(nn.Module):
    """Batch normalisation with one mean, variance, scale and shift per field, the statistics
    taken over batch, group and space (so every orientation is treated alike)."""

    def __init__(self, fields: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm3d(fields)

    def forward(self, f: Tensor) -> Tensor:
        b, c, g, n = f.shape[:4]
        return self.norm(f.reshape(b, c, g * n, n, n)).reshape(f.shape)


def cube_avg_pool(f: Tensor) -> Tensor:
    """Average over 2×2×2 blocks of the last three axes of volumes or regular fields.

    Raises:
        ValueError: an odd grid (its blocks would not map onto blocks under the rotations).
    """
    n = f.shape[-1]
    if n % 2:
        raise ValueError(f"cube_avg_pool needs an even grid, got {n}³; pick a grid size "
                         "divisible by 2 for every pooling step")
    lead = f.shape[:-3]
    out = F.avg_pool3d(f.reshape(-1, 1, n, n, n), 2)
    return out.reshape(*lead, n // 2, n // 2, n // 2)
