"""Subspace-parametrised convolutions: ``SubspaceConv1d`` and ``SubspaceConv2d``.

The filters ``W`` (shape ``(c_out, c_in, *kernel)``, as in :class:`torch.nn.Conv2d`) are a map
``V_in ⊗ K → V_out`` with ``V_in``, ``V_out`` the channel spaces and ``K`` the kernel cells
(row-major), so row-major ``vec(W)`` is indexed ``(o, i, cell)`` and ``G`` acts by
``W ↦ ρ_out(g) W (ρ_in(g) ⊗ ρ_K(g))⁻¹``: the channels mix and the kernel grid moves (rot90,
flips, reversal of a 1-d kernel). ``H_G`` are the equivariant filters. Stride and zero padding
are whatever :func:`torch.nn.functional.conv2d` takes; whether the convolution of equivariant
filters is then equivariant depends on the input size (the sampled grid must be symmetric),
which :func:`~quotient.dynamics.convert` checks. An optional bias is a separate
:class:`~quotient.dynamics.SubspaceBias` in ``Hom_G(1, V_out)`` (constant over the grid, so the
grid's motion does not act on it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..groups import Representation, tensor
from ._errors import SubspaceError
from .geometry import LayerGeometry
from .layers import SubspaceBias, SubspaceLayer, _make_space
from .solver import BasisCache, solve_equivariant
from .spaces import AdmissibleSpace, KernelBasisSpace, MaskSpace, support_mask

Padding = int | tuple[int, ...] | str


def _tuple(value: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    out = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(out) != n or any(v < 0 for v in out):
        raise SubspaceError(f"{what} must be a non-negative int or {n} of them, got {value!r}")
    return out


def _kernel_mask(support: Tensor | Sequence, kshape: tuple[int, ...]) -> Tensor:
    if isinstance(support, Tensor):
        return support
    if len(kshape) == 2:
        if kshape[0] != kshape[1]:
            raise SubspaceError(f"support positions need a square kernel, got {kshape}; pass a "
                                f"{kshape} boolean mask")
        return support_mask(support, kshape[0])
    mask = torch.zeros(kshape, dtype=torch.bool)
    for pos in support:
        i = int(pos[0]) if isinstance(pos, (tuple, list)) else int(pos)
        if not 0 <= i < kshape[0]:
            raise SubspaceError(f"position {i} lies outside a kernel of length {kshape[0]}")
        mask[i] = True
    return mask


class _SubspaceConv(SubspaceLayer):
    """Shared part of the 1-d and 2-d convolutions (see the module docstring)."""

    ndim: int
    plain: type[nn.Module]

    def __init__(self, channel_in: Representation, channel_out: Representation,
                 kernel_rep: Representation, *, kernel_size: int | Sequence[int] | None = None,
                 stride: int | Sequence[int] = 1, padding: Padding | None = None,
                 support: Tensor | Sequence | None = None, kernel_basis: Tensor | None = None,
                 space: AdmissibleSpace | None = None, bias: bool = False,
                 bias_space: AdmissibleSpace | Tensor | None = None,
                 cache: BasisCache | None = None, dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        kshape = self._kernel_shape(kernel_rep, kernel_size)
        if padding is None:
            if any(k % 2 == 0 for k in kshape):
                raise SubspaceError(
                    f"kernel representation of dimension {kernel_rep.dim} is not an odd square "
                    f"grid (3x3, 5x5, ...) for the default 'same' padding; pass padding")
            padding = tuple(k // 2 for k in kshape)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise SubspaceError(f"padding must be an int, a tuple, 'same' or 'valid', got "
                                f"{padding!r}")
        if not isinstance(padding, str):
            padding = _tuple(padding, self.ndim, "padding")
        self.kernel_size, self.padding = kshape, padding
        self.stride = _tuple(stride, self.ndim, "stride")
        if min(self.stride) < 1:
            raise SubspaceError(f"stride must be at least 1, got {stride!r}")
        self.in_channels, self.out_channels = channel_in.dim, channel_out.dim
        self.weight_shape = (channel_out.dim, channel_in.dim, *kshape)
        if space is None and kernel_basis is not None:
            space = KernelBasisSpace(self.weight_shape, kernel_basis, kernel_ndim=self.ndim)
        elif space is None and support is not None:
            space = MaskSpace(self.weight_shape, _kernel_mask(support, kshape))
        geometry = LayerGeometry(_make_space(self.weight_shape, space),
                                 solve_equivariant(tensor(channel_in, kernel_rep), channel_out,
                                                   cache=cache))
        fan_in = channel_in.dim * math.prod(kshape)
        self._init_coef(geometry, fan_in, dtype, generator)
        self.bias = bool(bias)
        self.bias_layer = SubspaceBias(channel_out, space=bias_space, channel_dim=1,
                                       fan_in=fan_in, cache=cache, dtype=dtype,
                                       generator=generator) if bias else None

    def _kernel_shape(self, kernel_rep: Representation,
                      kernel_size: int | Sequence[int] | None) -> tuple[int, ...]:
        if kernel_size is None:
            k = round(kernel_rep.dim ** (1.0 / self.ndim))
            if k ** self.ndim != kernel_rep.dim:
                raise SubspaceError(f"kernel representation of dimension {kernel_rep.dim} is not "
                                    f"an odd square grid (3x3, 5x5, ...); pass kernel_size")
            return (k,) * self.ndim
        kshape = _tuple(kernel_size, self.ndim, "kernel_size")
        if math.prod(kshape) != kernel_rep.dim or min(kshape) < 1:
            raise SubspaceError(f"kernel_size {kshape} has {math.prod(kshape)} cells but the "
                                f"kernel representation has dimension {kernel_rep.dim}")
        return kshape

    def _bias(self, x: Tensor) -> Tensor | None:
        return None if self.bias_layer is None else self.bias_layer.vector().to(x.dtype)

    def _check(self, x: Tensor) -> None:
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            kind = "images (batch, {c}, H, W)" if self.ndim == 2 else "signals (batch, {c}, L)"
            raise SubspaceError(f"expected {kind.format(c=self.in_channels)}, got "
                                f"{tuple(x.shape)}")

    def export(self) -> nn.Module:
        """A plain :class:`torch.nn.Conv1d` / :class:`torch.nn.Conv2d` with the current filters
        (and bias), the same stride and padding."""
        w = self.weight().detach()
        out = self.plain(self.in_channels, self.out_channels, self.kernel_size,
                         stride=self.stride, padding=self.padding, bias=self.bias,
                         dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w)
            if self.bias_layer is not None:
                out.bias.copy_(self.bias_layer.vector().detach())
        return out


class SubspaceConv2d(_SubspaceConv):
    """A 2-d convolution with filters in ``L``: ``F.conv2d(x, W, b, stride, padding)``.

    Args:
        channel_in, channel_out: channel representations (``c_in``, ``c_out``); use
            :func:`~quotient.dynamics.identity_representation` for trivial channels and
            :func:`~quotient.dynamics.copies` of ``"regular"`` for regular ones (channel index
            ``copy · |G| + element``).
        kernel_rep: the representation on the kernel grid, row-major cells
            (:func:`~quotient.dynamics.grid_representation`).
        kernel_size: ``(kh, kw)``; inferred as a square from ``kernel_rep`` when omitted.
        stride: as in :class:`torch.nn.Conv2d`.
        padding: zero padding as in :class:`torch.nn.Conv2d` (ints, ``"same"``, ``"valid"``);
            default ``k // 2`` (needs odd kernels).
        support: a kernel-shaped mask or a list of ``(row, col)`` positions (the space is the
            filters supported there); ignored when ``kernel_basis`` or ``space`` is given.
        kernel_basis: ``(m, kh, kw)`` basis shared by all filters (orthonormal or not).
        space: any admissible space of shape ``(c_out, c_in, kh, kw)``.
        bias: add a bias, a separate :class:`~quotient.dynamics.SubspaceBias` (``bias_layer``).
        bias_space: its admissible space (all biases by default).
    """

    ndim = 2
    plain = nn.Conv2d

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        self._check(x)
        return F.conv2d(x, weight.to(x.dtype), self._bias(x), stride=self.stride,
                        padding=self.padding)


class SubspaceConv1d(_SubspaceConv):
    """A 1-d convolution with filters in ``L``: ``F.conv1d(x, W, b, stride, padding)``.

    The same arguments as :class:`SubspaceConv2d` with 1-d kernels: ``kernel_rep`` acts on the
    ``k`` kernel cells (e.g. the reversal ``i ↦ k − 1 − i`` for
    :data:`~quotient.dynamics.reverse_signal`), ``support`` is a ``(k,)`` mask or a list of
    positions, ``kernel_basis`` is ``(m, k)``.
    """

    ndim = 1
    plain = nn.Conv1d

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        self._check(x)
        return F.conv1d(x, weight.to(x.dtype), self._bias(x), stride=self.stride,
                        padding=self.padding)
