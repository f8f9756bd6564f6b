"""Which parameter-free layers commute with the group, and what they do to the features.

:func:`~quotient.dynamics.convert` follows the features through a network as a
:class:`Feature`: vectors carrying a representation, or feature maps carrying a channel
representation on a grid moved by a centred spatial action. A parameter-free layer is accepted
when it commutes with that action:

* elementwise functions commute with permutations of the features (odd ones, such as ``tanh``,
  also with signed permutations) — the channel representation must be of that kind (the grid
  is always permuted);
* average pools are linear and the same on every channel, so any channel representation will do;
  max pools need permuted channels; both need symmetric sampling (:mod:`.spatial`); adaptive
  pools always sample symmetrically;
* ``LayerNorm`` over the whole feature and ``Softmax`` over the features subtract means and
  normalise, which commutes with permutations;
* ``Flatten`` turns ``(C, *grid)`` into vectors carrying ``ρ_ch ⊗ ρ_grid`` (channel-major).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..actions import Action
from ..groups import Group, Representation, tensor
from ._errors import SubspaceError
from ._linalg import monomial_structure
from .reps import spatial_representation
from .spatial import GridMotion, adaptive_output

POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
             nn.Mish, nn.Sigmoid, nn.Softplus, nn.Hardswish, nn.Hardsigmoid, nn.Tanh,
             nn.Softsign, nn.Hardtanh, nn.Tanhshrink, nn.Dropout)
"""Elementwise layers: equivariant for permutation representations of the channels."""
ODD = (nn.Tanh, nn.Softsign, nn.Tanhshrink)
"""Odd elementwise layers: equivariant for signed permutations too."""
AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d)
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d)
ADAPTIVE_POOLS = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d,
                  nn.AdaptiveMaxPool2d)
SUPPORTED = ("nn.Linear, nn.Conv1d, nn.Conv2d (groups=1, dilation 1, zero padding); "
             "elementwise activations (ReLU, Tanh, GELU, ...), Dropout, Identity, Flatten, "
             "Avg/Max pools and their adaptive forms, LayerNorm without affine parameters over "
             "the whole feature, Softmax/LogSoftmax over the features, and nested nn.Sequential")


@dataclass
class Feature:
    """Features after a layer: vectors (``grid = None``, ``shape`` their trailing shape) or
    feature maps (``rep`` on the channels, ``grid`` the cells)."""

    rep: Representation
    shape: tuple[int, ...]
    grid: tuple[int, ...] | None = None


def permutation_kind(rep: Representation) -> str:
    """``"permutation"``, ``"signed"`` or ``"other"`` from the discrete generators (Lie
    representations are ``"other"`` unless their algebra acts trivially)."""
    if bool((rep.lie_generators() != 0).any()):
        return "other"
    structure = monomial_structure(rep.discrete_generators())
    if structure is None:
        return "other"
    return "permutation" if bool((structure[1] > 0).all()) else "signed"


class Commuting:
    """Checks parameter-free layers for one group, spatial action and grid motion."""

    def __init__(self, group: Group, spatial: Action | None, motion: GridMotion | None,
                 strict: bool) -> None:
        self.group, self.spatial, self.motion, self.strict = group, spatial, motion, strict

    def need(self, f: Feature, kinds: tuple[str, ...], where: str, why: str) -> None:
        kind = permutation_kind(f.rep)
        if kind not in kinds and self.strict:
            raise SubspaceError(f"{where} {why}, but the group acts on its input by "
                                f"{f.rep.name}, which is not a "
                                f"{' or '.join(kinds)} representation; use permutation-type "
                                "channels (trivial, regular, permutation) here, or pass "
                                "strict=False to skip this check")

    def layer(self, name: str, m: nn.Module, f: Feature) -> Feature:
        """A parameter-free layer: check that it commutes with the group, return the new
        features."""
        where = f"layer {name!r} ({type(m).__name__})"
        if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
            raise SubspaceError(f"{where} has parameters or buffers; convert supports "
                                f"{SUPPORTED}")
        if isinstance(m, nn.Identity):
            return f
        if isinstance(m, ODD) or (isinstance(m, nn.Hardtanh) and m.min_val == -m.max_val):
            self.need(f, ("permutation", "signed"), where, "is odd and elementwise")
            return f
        if isinstance(m, POINTWISE):
            self.need(f, ("permutation",), where, "acts elementwise")
            return f
        if isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise SubspaceError(f"{where}: only Flatten(start_dim=1, end_dim=-1) is "
                                    "supported")
            if f.grid is None:
                return Feature(f.rep, (f.rep.dim,))
            assert self.spatial is not None
            rep = tensor(f.rep, spatial_representation(self.group, self.spatial, f.grid))
            return Feature(rep, (rep.dim,))
        if isinstance(m, AVG_POOLS + MAX_POOLS):
            return self._pool(where, m, f)
        if isinstance(m, ADAPTIVE_POOLS):
            if f.grid is None:
                raise SubspaceError(f"{where} needs feature maps")
            if isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)):
                self.need(f, ("permutation",), where, "takes maxima")
            grid = adaptive_output(f.grid, m.output_size)  # type: ignore[arg-type]
            assert self.motion is not None
            self.motion.check(grid, where)
            return Feature(f.rep, (f.rep.dim, *grid), grid)
        if isinstance(m, nn.LayerNorm):
            if tuple(m.normalized_shape) != f.shape:
                raise SubspaceError(f"{where} normalises over {tuple(m.normalized_shape)} but "
                                    f"the features have shape {f.shape}; normalise over all of "
                                    "them")
            self.need(f, ("permutation",), where, "subtracts the mean")
            return f
        if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
            if f.grid is not None or len(f.shape) != 1 or m.dim not in (-1, 1):
                raise SubspaceError(f"{where}: only a softmax over the features of vectors "
                                    "(dim=-1 or 1) is supported")
            self.need(f, ("permutation",), where, "normalises over the features")
            return f
        raise SubspaceError(f"{where} is not supported; convert supports {SUPPORTED}")

    def _pool(self, where: str, m: nn.Module, f: Feature) -> Feature:
        if f.grid is None:
            raise SubspaceError(f"{where} needs feature maps")
        d = len(f.grid)

        def per_axis(v: Any) -> tuple[int, ...]:
            return (int(v),) * d if isinstance(v, int) else tuple(int(x) for x in v)

        if getattr(m, "ceil_mode", False) or per_axis(getattr(m, "dilation", 1)) != (1,) * d \
                or getattr(m, "return_indices", False):
            raise SubspaceError(f"{where}: ceil_mode, dilation and return_indices are not "
                                "supported")
        if isinstance(m, MAX_POOLS):
            self.need(f, ("permutation",), where, "takes maxima")
        kernel = per_axis(m.kernel_size)  # type: ignore[attr-defined]
        stride = per_axis(m.stride or m.kernel_size)  # type: ignore[attr-defined]
        assert self.motion is not None
        grid = self.motion.sampling(f.grid, kernel, stride, per_axis(m.padding),  # type: ignore
                                    where)
        return Feature(f.rep, (f.rep.dim, *grid), grid)
