"""Subspace-parametrised layers: the weights are ``A = B c`` with trainable coefficients ``c``.

Every layer carries a :class:`~quotient.dynamics.geometry.LayerGeometry` (``L``, ``H_G``, ``E``),
so a network built from them can be projected onto ``E`` (:meth:`SubspaceLayer.project_to_E`),
measured (:meth:`SubspaceLayer.distance_to_E`) and exported to plain torch modules
(:func:`export`). Nonlinearities between them must be equivariant for the representations used
(pointwise ones for permutation representations, LayerNorm over permuted axes, average pooling
on even grids).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..groups import Representation, direct_sum, tensor
from ._errors import SubspaceError
from .geometry import CompatibilityReport, LayerGeometry
from .solver import BasisCache, solve_equivariant
from .spaces import AdmissibleSpace, KernelBasisSpace, MaskSpace, support_mask


def _make_space(shape: tuple[int, ...], space: AdmissibleSpace | Tensor | None) -> \
        AdmissibleSpace:
    if space is None or isinstance(space, Tensor):
        return MaskSpace(shape, space)
    if not isinstance(space, AdmissibleSpace):
        raise SubspaceError(f"space must be an AdmissibleSpace, a mask tensor or None, got "
                            f"{type(space).__name__}")
    if tuple(space.shape) != shape:
        raise SubspaceError(f"space has weight shape {space.shape} but the layer needs {shape}")
    return space


class SubspaceLayer(nn.Module):
    """Base class: one coefficient vector ``coef`` ``(m,)`` and the layer's geometry.

    Subclasses set ``weight_shape`` and implement ``_forward(x, weight)``.
    """

    weight_shape: tuple[int, ...]

    def _init_coef(self, geometry: LayerGeometry, fan_in: int, dtype: torch.dtype,
                   generator: torch.Generator | None) -> None:
        self.geometry = geometry
        std = 1.0 / math.sqrt(max(1, fan_in))
        a = torch.randn(geometry.size, dtype=torch.float64, generator=generator) * std
        coef = geometry.space.coefficients(geometry.space.project(a))
        self.coef = nn.Parameter(coef.to(dtype))
        self._override: Tensor | None = None

    @property
    def space(self) -> AdmissibleSpace:
        """The admissible space ``L``."""
        return self.geometry.space

    def weight_flat(self) -> Tensor:
        """``A = B c`` flattened, ``(D,)`` (a substituted coefficient vector if one is set)."""
        coef = self.coef if self._override is None else self._override
        return self.space.synthesize(coef)

    def weight(self) -> Tensor:
        """``A`` in the layer's weight shape."""
        return self.weight_flat().reshape(self.weight_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward(x, self.weight())

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def project_to_E(self) -> None:
        """Replace ``A`` by ``Π_E A`` (exactly; the coefficients become ``B⁺ Π_E A``)."""
        a = self.weight_flat().to(torch.float64)
        self.coef.copy_(self.space.coefficients(self.geometry.project_E(a)).to(self.coef.dtype))

    @torch.no_grad()
    def distance_to_E(self, relative: bool = False) -> float:
        """``‖A − Π_E A‖`` (or divided by ``‖A‖`` when ``relative``)."""
        a = self.weight_flat().to(torch.float64)
        d = float(self.geometry.distance_to_E(a))
        return d / max(float(a.norm()), 1e-300) if relative else d

    def export(self) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError


class SubspaceLinear(SubspaceLayer):
    """``y = A x (+ b)`` with ``A ∈ L ⊆ Hom(V_in, V_out)``.

    Args:
        rep_in, rep_out: representations on inputs (``d_in``) and outputs (``d_out``).
        space: the admissible space (weight shape ``(d_out, d_in)``, or ``(d_out, d_in + 1)``
            with a bias), a mask of that shape, or ``None`` for the whole space.
        bias: add a bias; it is the last column of ``A`` and transforms as
            ``Hom(trivial, V_out)`` (the input representation becomes ``ρ_in ⊕ 1``).
        cache: a :class:`~quotient.dynamics.BasisCache` shared between layers.
        dtype: dtype of the coefficients (float64 for exact experiments).
        generator: randomness of the initial coefficients.
    """

    def __init__(self, rep_in: Representation, rep_out: Representation, *,
                 space: AdmissibleSpace | Tensor | None = None, bias: bool = False,
                 cache: BasisCache | None = None, dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features, self.bias = rep_in.dim, rep_out.dim, bias
        rin = direct_sum(rep_in, rep_in.group.rep("trivial")) if bias else rep_in
        self.weight_shape = (rep_out.dim, rin.dim)
        geometry = LayerGeometry(_make_space(self.weight_shape, space),
                                 solve_equivariant(rin, rep_out, cache=cache))
        self._init_coef(geometry, rin.dim, dtype, generator)

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise SubspaceError(f"expected inputs (..., {self.in_features}), got "
                                f"{tuple(x.shape)}")
        if self.bias:
            return F.linear(x, weight[:, :-1].to(x.dtype), weight[:, -1].to(x.dtype))
        return F.linear(x, weight.to(x.dtype))

    def export(self) -> nn.Linear:
        """A plain :class:`torch.nn.Linear` with the current weights."""
        w = self.weight().detach()
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias, dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w[:, :-1] if self.bias else w)
            if self.bias:
                out.bias.copy_(w[:, -1])
        return out


class SubspaceConv2d(SubspaceLayer):
    """A ``k × k`` convolution (stride 1, zero padding ``k // 2``, no bias) with filters in ``L``.

    The group acts on the filters by ``W ↦ ρ_out(g) W ρ_in(g)⁻¹`` with
    ``ρ_in = ρ_ch,in ⊗ ρ_kernel``: the kernel grid moves (e.g. rot90) and the channels mix.

    Args:
        channel_in, channel_out: channel representations (``c_in``, ``c_out``); use
            :func:`~quotient.dynamics.identity_representation` for trivial channels and
            :func:`~quotient.dynamics.copies` of ``"regular"`` for regular ones.
        kernel_rep: the representation on the ``k × k`` kernel grid
            (:func:`~quotient.dynamics.grid_representation`).
        support: a ``(k, k)`` mask or a list of ``(row, col)`` positions (the space is the
            filters supported there); ignored when ``kernel_basis`` or ``space`` is given.
        kernel_basis: ``(m, k, k)`` basis shared by all filters (orthonormal or not).
        space: any admissible space of shape ``(c_out, c_in, k, k)``.
    """

    def __init__(self, channel_in: Representation, channel_out: Representation,
                 kernel_rep: Representation, *, support: Tensor | list | tuple | None = None,
                 kernel_basis: Tensor | None = None, space: AdmissibleSpace | None = None,
                 cache: BasisCache | None = None, dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        k = math.isqrt(kernel_rep.dim)
        if k * k != kernel_rep.dim or k % 2 == 0:
            raise SubspaceError(f"kernel representation of dimension {kernel_rep.dim} is not an "
                                "odd square grid (3x3, 5x5, ...)")
        self.kernel_size, self.in_channels, self.out_channels = k, channel_in.dim, channel_out.dim
        self.weight_shape = (channel_out.dim, channel_in.dim, k, k)
        if space is None and kernel_basis is not None:
            space = KernelBasisSpace(self.weight_shape, kernel_basis)
        elif space is None and support is not None:
            mask = support if isinstance(support, Tensor) else support_mask(support, k)
            space = MaskSpace(self.weight_shape, mask)
        rep_in = tensor(channel_in, kernel_rep)
        geometry = LayerGeometry(_make_space(self.weight_shape, space),
                                 solve_equivariant(rep_in, channel_out, cache=cache))
        self._init_coef(geometry, channel_in.dim * k * k, dtype, generator)

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise SubspaceError(f"expected images (batch, {self.in_channels}, H, W), got "
                                f"{tuple(x.shape)}")
        return F.conv2d(x, weight.to(x.dtype), padding=self.kernel_size // 2)

    def export(self) -> nn.Conv2d:
        """A plain :class:`torch.nn.Conv2d` with the current filters."""
        w = self.weight().detach()
        out = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                        padding=self.kernel_size // 2, bias=False, dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w)
        return out


# -- whole networks -----------------------------------------------------------------------
def subspace_layers(model: nn.Module) -> list[SubspaceLayer]:
    """The subspace layers of ``model`` in registration order."""
    return [m for m in model.modules() if isinstance(m, SubspaceLayer)]


def _layers_or_raise(model: nn.Module) -> list[SubspaceLayer]:
    layers = subspace_layers(model)
    if not layers:
        raise SubspaceError(f"{type(model).__name__} has no subspace layers")
    return layers


def project_to_E(model: nn.Module) -> None:
    """Project every subspace layer of ``model`` onto its ``E``."""
    for layer in _layers_or_raise(model):
        layer.project_to_E()


def flat_weights(model: nn.Module) -> list[Tensor]:
    """The current ``A`` of every subspace layer, flattened, detached, float64."""
    return [layer.weight_flat().detach().to(torch.float64) for layer in _layers_or_raise(model)]


def distance_to_E(model: nn.Module) -> float:
    """``‖A − Π_E A‖`` over all subspace layers (the layer tuple's norm)."""
    return math.sqrt(sum(layer.distance_to_E() ** 2 for layer in _layers_or_raise(model)))


def export(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every subspace layer replaced by its plain torch module."""
    if isinstance(model, SubspaceLayer):
        return model.export()
    out = copy.deepcopy(model)
    for child in list(out.modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, SubspaceLayer):
                setattr(child, attr, sub.export())
    return out


@contextmanager
def substituted_coefficients(model: nn.Module, coefs: list[Tensor]) -> Iterator[None]:
    """Evaluate ``model`` with other coefficient vectors (one per subspace layer, in order);
    gradients flow into ``coefs``. Used for Hessian-vector products."""
    layers = _layers_or_raise(model)
    if len(coefs) != len(layers):
        raise SubspaceError(f"{len(coefs)} coefficient vectors for {len(layers)} layers")
    try:
        for layer, c in zip(layers, coefs, strict=True):
            if c.shape != layer.coef.shape:
                raise SubspaceError(f"coefficients of shape {tuple(c.shape)} for a layer with "
                                    f"{tuple(layer.coef.shape)}")
            layer._override = c
        yield
    finally:
        for layer in layers:
            layer._override = None


def compatibility(model: nn.Module, tol: float = 1e-10) -> CompatibilityReport:
    """The network's compatibility: projections act layer by layer, so the commutator of the
    layer tuple is the largest layer commutator (dimensions add up)."""
    reps = [layer.geometry.compatibility(tol) for layer in _layers_or_raise(model)]
    comm = max(r.commutator for r in reps)
    inv = max(r.invariance_defect for r in reps)
    return CompatibilityReport(comm, comm <= tol, inv, inv <= tol, sum(r.dim_L for r in reps),
                               sum(r.dim_G for r in reps), sum(r.dim_E for r in reps), tol)
