"""Plain networks in, subspace-parametrised networks out: :func:`convert`.

:func:`convert` walks an ``nn.Sequential`` (nested ones too) in forward order, follows how the
group acts on the features after every layer, and replaces each ``nn.Linear``, ``nn.Conv1d``
and ``nn.Conv2d`` by its subspace-parametrised twin with the same weights. Everything else must
be parameter-free and commute with the group (checked). :func:`~quotient.dynamics.export` turns
the result back into the plain architecture.

**How the group acts on features** (index conventions, all row-major as in torch):

* feature maps ``(batch, C, *grid)``: ``(g·x)[c, cell] = Σ_c' ρ_ch(g)[c, c'] x[c', g⁻¹·cell]``
  — the spatial action moves the cells (``spatial``, e.g. ``rot90_image``) and the channel
  representation mixes the channels;
* ``n`` copies of a ``d``-dimensional representation on ``C = n·d`` channels are ``I_n ⊗ ρ``:
  channel ``copy · d + i`` (copy-major), e.g. regular C4 channels ``[c0e0, c0e1, c0e2, c0e3,
  c1e0, …]``;
* ``nn.Flatten`` of ``(C, *grid)`` gives ``ρ_ch ⊗ ρ_grid`` on index ``c · cells + cell``
  (channel-major);
* vector inputs of trailing shape ``input_shape`` (e.g. an ``n × n`` adjacency matrix) carry the
  ``input`` representation on their row-major flattening (``tensor(P, P)`` for ``A ↦ P A Pᵀ``).

**Admissible spaces** per layer (``space=``): ``None``/``"full"``; ``"cross"``/``"skew"`` (3×3
supports); a list of kernel positions; a boolean mask (kernel-shaped or full); a
:class:`KernelBasis` (one basis for every filter, orthonormal or not); an
:class:`~quotient.dynamics.AdmissibleSpace`; or a function ``weight shape -> AdmissibleSpace``
(e.g. wrapping :func:`~quotient.dynamics.function_space`). One spec applies to every
convolution (linear layers keep the full space); a dict keyed by the layer's position among the
parametrised layers (``0, 1, …``) or by its module name (``"0"``, ``"head.2"``) sets layers one
by one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..actions import Action
from ..groups import Group, Representation
from ._errors import SubspaceError
from .commuting import Commuting, Feature
from .conv import SubspaceConv1d, SubspaceConv2d
from .layers import SubspaceLayer, SubspaceLinear
from .reps import copies, identity_representation, spatial_representation
from .solver import BasisCache
from .spaces import CROSS, SKEW, AdmissibleSpace, KernelBasisSpace, MaskSpace
from .spatial import GridMotion, grid_motion, resolve_padding

ChannelSpec = str | Representation
"""How the group acts on a channel space: ``"trivial"``, ``"regular"``, ``"permutation"``, any
other named kind of the group, or a :class:`~quotient.groups.Representation` (copies of it fill
the width)."""


@dataclass(frozen=True)
class KernelBasis:
    """An admissible space for convolutions: every filter is ``Σ_j c_j b_j`` for one basis
    ``vectors`` ``(m, *kernel)`` (orthonormal or not), e.g.
    :func:`~quotient.dynamics.non_orthonormal_kernel_basis`."""

    vectors: Tensor


SpaceSpec = Any
"""See the module docstring."""

def _leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module, str, nn.Module]]:
    out = []
    for attr, child in module.named_children():
        name = f"{prefix}{attr}"
        if isinstance(child, nn.Sequential):
            out += _leaves(child, name + ".")
        else:
            out.append((name, module, attr, child))
    return out


def _channel_rep(group: Group, spec: ChannelSpec, width: int, where: str) -> Representation:
    if isinstance(spec, Representation):
        rep = spec
        if rep.group is not group:
            raise SubspaceError(f"{where}: the representation {rep.name} belongs to another group "
                                f"object than {group.name}; build it from the same instance")
    elif spec == "trivial":
        return identity_representation(group, width)
    elif isinstance(spec, str) and spec in group.representations:
        rep = group.rep(spec)
    else:
        raise SubspaceError(f"{where}: unknown channel type {spec!r}; use 'trivial', one of "
                            f"{sorted(group.representations)} or a Representation")
    if width % rep.dim:
        raise SubspaceError(f"{where}: {width} features are not a whole number of copies of "
                            f"{rep.name} (dimension {rep.dim}); change the width or the type")
    return copies(rep, width // rep.dim)


class _Converter:
    def __init__(self, group: Group, *, spatial: Action | None, hidden: ChannelSpec |
                 Sequence[ChannelSpec], output: ChannelSpec, space: SpaceSpec,
                 bias_space: SpaceSpec, weights: str, cache: BasisCache | None,
                 dtype: torch.dtype | None) -> None:
        self.group, self.spatial, self.output = group, spatial, output
        self.hidden, self.space, self.bias_space = hidden, space, bias_space
        self.weights, self.cache, self.dtype = weights, cache, dtype
        self.motion: GridMotion | None = None
        self.index = 0
        self.n_param = 0
        self.used: set[str | int] = set()

    # -- specs ---------------------------------------------------------------------------
    def _out_spec(self, name: str) -> ChannelSpec:
        if self.index == self.n_param - 1:
            return self.output
        if isinstance(self.hidden, (list, tuple)):
            if len(self.hidden) != self.n_param - 1:
                raise SubspaceError(f"hidden has {len(self.hidden)} entries but the network has "
                                    f"{self.n_param - 1} hidden layers (one per parametrised "
                                    "layer but the last)")
            return self.hidden[self.index]
        return self.hidden  # type: ignore[return-value]

    def _pick(self, spec: SpaceSpec, name: str, conv: bool) -> SpaceSpec:
        if isinstance(spec, Mapping):
            for key in (name, self.index):
                if key in spec:
                    self.used.add(key)
                    return spec[key]
            return None
        return spec if conv else None

    def _space(self, spec: SpaceSpec, shape: tuple[int, ...], kernel_ndim: int,
               where: str) -> AdmissibleSpace | None:
        if spec is None or (isinstance(spec, str) and spec == "full"):
            return None
        if isinstance(spec, str):
            if spec not in ("cross", "skew"):
                raise SubspaceError(f"{where}: unknown space {spec!r}; use 'full', 'cross', "
                                    "'skew', positions, a mask, a KernelBasis or a space")
            spec = CROSS if spec == "cross" else SKEW
        if isinstance(spec, AdmissibleSpace):
            return spec
        if isinstance(spec, KernelBasis):
            if not kernel_ndim:
                raise SubspaceError(f"{where}: a KernelBasis needs a convolution")
            return KernelBasisSpace(shape, spec.vectors, kernel_ndim=kernel_ndim)
        if callable(spec):
            out = spec(shape)
            if not isinstance(out, AdmissibleSpace):
                raise SubspaceError(f"{where}: the space function returned "
                                    f"{type(out).__name__}, not an AdmissibleSpace")
            return out
        if isinstance(spec, Tensor):
            return MaskSpace(shape, spec)
        if not kernel_ndim:
            raise SubspaceError(f"{where}: kernel positions need a convolution")
        kshape = shape[-kernel_ndim:]
        mask = torch.zeros(kshape, dtype=torch.bool)
        for pos in spec:
            idx = tuple(int(v) for v in (pos if isinstance(pos, (tuple, list)) else (pos,)))
            if len(idx) != kernel_ndim or any(not 0 <= i < k for i, k in zip(idx, kshape,
                                                                            strict=True)):
                raise SubspaceError(f"{where}: position {pos} does not fit a {kshape} kernel")
            mask[idx] = True
        return MaskSpace(shape, mask)

    def _copy_in(self, layer: SubspaceLayer, plain: nn.Module, where: str) -> None:
        tol = 1e-10 if self.weights == "exact" else None
        try:
            layer.set_weight(plain.weight, tol=tol)  # type: ignore[arg-type]
            bias_layer = getattr(layer, "bias_layer", None)
            if bias_layer is not None:
                bias_layer.set_weight(plain.bias.reshape(-1, 1), tol=tol)  # type: ignore
        except SubspaceError as exc:
            raise SubspaceError(f"{where}: {exc}; or pass weights='project'") from exc

    # -- layers --------------------------------------------------------------------------
    def linear(self, name: str, m: nn.Linear, f: Feature) -> tuple[nn.Module, Feature]:
        where = f"layer {name!r} (Linear)"
        if f.grid is not None or len(f.shape) != 1:
            got = f"feature maps {(f.rep.dim, *f.grid)}" if f.grid is not None else \
                f"features of shape {f.shape}"
            raise SubspaceError(f"{where} receives {got}; it acts on the last dimension only — "
                                "put an nn.Flatten() before it")
        if m.in_features != f.rep.dim:
            raise SubspaceError(f"{where} expects {m.in_features} inputs but receives "
                                f"{f.rep.dim}; check input_shape")
        rep_out = _channel_rep(self.group, self._out_spec(name), m.out_features, where)
        dtype = self.dtype or m.weight.dtype
        layer = SubspaceLinear(f.rep, rep_out, space=self._space(
            self._pick(self.space, name, False), (m.out_features, m.in_features), 0, where),
            bias="separate" if m.bias is not None else False,
            bias_space=self._space(self._pick(self.bias_space, name, True),
                                   (m.out_features, 1), 0, where),
            cache=self.cache, dtype=dtype)
        self._copy_in(layer, m, where)
        return layer, Feature(rep_out, (m.out_features,))

    def conv(self, name: str, m: nn.Conv1d | nn.Conv2d, f: Feature) -> tuple[nn.Module,
                                                                               Feature]:
        d = 2 if isinstance(m, nn.Conv2d) else 1
        where = f"layer {name!r} ({type(m).__name__})"
        if f.grid is None or len(f.grid) != d:
            raise SubspaceError(f"{where} needs {d}-d feature maps but receives vectors of shape "
                                f"{f.shape}; pass input_shape=(C, {'H, W' if d == 2 else 'L'}) "
                                "and spatial=")
        if m.groups != 1 or any(v != 1 for v in m.dilation) or m.padding_mode != "zeros":
            raise SubspaceError(f"{where} has groups={m.groups}, dilation={m.dilation}, "
                                f"padding_mode={m.padding_mode!r}; convert supports groups=1, "
                                "dilation 1 and zero padding")
        if m.in_channels != f.rep.dim:
            raise SubspaceError(f"{where} expects {m.in_channels} channels but receives "
                                f"{f.rep.dim}")
        assert self.motion is not None and self.spatial is not None
        kernel = tuple(m.kernel_size)
        pad = resolve_padding(m.padding, kernel, where)
        out_grid = self.motion.sampling(f.grid, kernel, m.stride, pad, where)
        self.motion.check(kernel, f"{where} kernel")
        rep_out = _channel_rep(self.group, self._out_spec(name), m.out_channels, where)
        shape = (m.out_channels, m.in_channels, *kernel)
        cls = SubspaceConv2d if d == 2 else SubspaceConv1d
        layer = cls(f.rep, rep_out, spatial_representation(self.group, self.spatial, kernel),
                    kernel_size=kernel, stride=m.stride, padding=m.padding,
                    space=self._space(self._pick(self.space, name, True), shape, d, where),
                    bias=m.bias is not None,
                    bias_space=self._space(self._pick(self.bias_space, name, True),
                                           (m.out_channels, 1), 0, where),
                    cache=self.cache, dtype=self.dtype or m.weight.dtype)
        self._copy_in(layer, m, where)
        return layer, Feature(rep_out, (m.out_channels, *out_grid), out_grid)

def convert(module: nn.Module, group: Group, *, input: ChannelSpec, output: ChannelSpec,
            hidden: ChannelSpec | Sequence[ChannelSpec] = "regular",
            spatial: Action | None = None, input_shape: Sequence[int] | None = None,
            space: SpaceSpec = None, bias_space: SpaceSpec = None, weights: str = "exact",
            cache: BasisCache | None = None, dtype: torch.dtype | None = None,
            strict: bool = True) -> nn.Module:
    """The subspace-parametrised twin of a plain network, with the same weights.

    Args:
        module: an ``nn.Sequential`` (nested ones allowed) of supported layers, or one
            ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d``.
        group: the group ``G``.
        input: how ``G`` acts on the input channels (feature maps) or on the whole input vector
            (see :data:`ChannelSpec` and the module docstring for the index order).
        output: how ``G`` acts on the outputs of the last parametrised layer (``"trivial"``
            for an invariant classifier).
        hidden: the same for the outputs of every other parametrised layer, or a list with one
            entry per hidden layer.
        spatial: the exact centred action on the grid of feature maps (``rot90_image``,
            ``flip_image``, ``dihedral_image``, ``reverse_signal``); ``None`` for vector inputs.
        input_shape: the shape of one input without the batch dimension: ``(C, H, W)`` /
            ``(C, L)`` for feature maps (required), or the trailing shape of vector inputs
            (default: the first layer's input width).
        space, bias_space: admissible spaces of the weights and of the biases (module
            docstring; biases default to the whole space).
        weights: ``"exact"`` — the plain weights must lie in ``L`` (else an error names the
            layer); ``"project"`` — they are projected onto ``L`` (the function changes).
        cache: a :class:`~quotient.dynamics.BasisCache` for the solved bases.
        dtype: dtype of the coefficients (default: that of each plain layer's weights).
        strict: refuse layers that do not commute with the group (elementwise activations on
            channels that are not permuted, ...).

    Returns:
        A deep copy of ``module`` with every parametrised layer replaced in place (same names),
        which computes the same function (exactly, up to float rounding of the weights).

    Raises:
        SubspaceError: an unsupported or non-commuting layer (naming it and what is supported),
            widths that do not fit the channel types, grids whose sampling is not symmetric,
            weights outside ``L`` with ``weights="exact"``.
    """
    if weights not in ("exact", "project"):
        raise SubspaceError(f"weights must be 'exact' or 'project', got {weights!r}")
    if not isinstance(module, (nn.Sequential, nn.Linear, nn.Conv1d, nn.Conv2d)):
        raise SubspaceError(
            f"convert walks nn.Sequential networks; {type(module).__name__} has its own forward, "
            "so the order of its layers is unknown — put its layers in an nn.Sequential "
            "(nested Sequentials are fine)")
    root = module if isinstance(module, nn.Sequential) else nn.Sequential(module)
    out = copy.deepcopy(root)
    leaves = _leaves(out)
    params = [leaf for leaf in leaves if isinstance(leaf[3], (nn.Linear, nn.Conv1d, nn.Conv2d))]
    if not params:
        raise SubspaceError("the network has no nn.Linear, nn.Conv1d or nn.Conv2d layer")
    conv = _Converter(group, spatial=spatial, hidden=hidden, output=output, space=space,
                      bias_space=bias_space, weights=weights, cache=cache, dtype=dtype)
    conv.n_param = len(params)
    feature = _input_feature(conv, params[0][3], input, input_shape, spatial)
    free = Commuting(group, spatial, conv.motion, strict)
    for name, parent, attr, m in leaves:
        if isinstance(m, nn.Linear):
            new, feature = conv.linear(name, m, feature)
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            new, feature = conv.conv(name, m, feature)
        else:
            feature = free.layer(name, m, feature)
            continue
        setattr(parent, attr, new)
        conv.index += 1
    for spec, what in ((space, "space"), (bias_space, "bias_space")):
        unused = [k for k in spec if k not in conv.used] if isinstance(spec, Mapping) else []
        if unused:
            raise SubspaceError(f"{what} has keys {unused} that name no parametrised layer; use "
                                f"positions 0..{len(params) - 1} or the names "
                                f"{[leaf[0] for leaf in params]}")
    return out if isinstance(module, nn.Sequential) else out[0]


def _input_feature(conv: _Converter, first: nn.Module, input: ChannelSpec,
                   input_shape: Sequence[int] | None, spatial: Action | None) -> Feature:
    group = conv.group
    if spatial is not None:
        if input_shape is None or len(input_shape) not in (2, 3):
            raise SubspaceError("feature-map inputs need input_shape=(C, H, W) or (C, L)")
        c, grid = int(input_shape[0]), tuple(int(v) for v in input_shape[1:])
        conv.motion = grid_motion(group, spatial, grid, "the input grid")
        return Feature(_channel_rep(group, input, c, "the input"), (c, *grid), grid)
    if isinstance(first, (nn.Conv1d, nn.Conv2d)):
        raise SubspaceError("the network starts with a convolution: pass spatial= (the action "
                            "on the grid, e.g. rot90_image) and input_shape=(C, H, W)")
    shape = (first.in_features,) if input_shape is None else tuple(  # type: ignore[union-attr]
        int(v) for v in input_shape)
    width = 1
    for v in shape:
        width *= v
    return Feature(_channel_rep(group, input, width, "the input"), shape)

