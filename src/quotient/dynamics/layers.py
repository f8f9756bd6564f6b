"""Subspace-parametrised layers: the weights are ``A = B c`` with trainable coefficients ``c``.

Every layer carries a :class:`~quotient.dynamics.geometry.LayerGeometry` (``L``, ``H_G``, ``E``),
so a network built from them can be projected onto ``E`` (:meth:`SubspaceLayer.project_to_E`),
measured (:meth:`SubspaceLayer.distance_to_E`) and exported to plain torch modules
(:func:`export`). Nonlinearities between them must be equivariant for the representations used
(pointwise ones for permutation representations, LayerNorm over permuted axes, pools whose
sampled cells are symmetric); :func:`~quotient.dynamics.convert` builds such a network from a
plain one and checks all of that.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..groups import Representation, direct_sum
from ._errors import SubspaceError
from .geometry import CompatibilityReport, LayerGeometry
from .solver import BasisCache, solve_equivariant
from .spaces import AdmissibleSpace, MaskSpace


def _make_space(shape: tuple[int, ...], space: AdmissibleSpace | Tensor | str | None) -> \
        AdmissibleSpace:
    if space is None or (isinstance(space, str) and space == "full"):
        return MaskSpace(shape)
    if isinstance(space, Tensor):
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

    @torch.no_grad()
    def set_weight(self, weight: Tensor, *, tol: float | None = 1e-10) -> float:
        """Set the coefficients to ``B⁺ A`` for weights ``A`` of the layer's shape (or flat).

        Returns ``‖A − Π_L A‖ / ‖A‖``, the part of ``A`` outside ``L`` that was dropped.

        Raises:
            SubspaceError: ``tol`` is not ``None`` and that relative residual exceeds it (the
                weights do not lie in ``L``; project them first or pass ``tol=None``).
        """
        a = self.space._flat(weight.detach().to(torch.float64).reshape(-1))
        inside = self.space.project(a)
        resid = float((a - inside).norm()) / max(float(a.norm()), 1e-300)
        if tol is not None and resid > tol:
            raise SubspaceError(f"the weights lie outside the admissible space L of this "
                                f"{type(self).__name__} (relative residual {resid:.2e} > "
                                f"{tol:.0e}); project them onto L first or pass tol=None")
        self.coef.copy_(self.space.coefficients(inside).to(self.coef.dtype))
        return resid

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
        """Replace ``A`` by ``Π_E A`` (exactly; the coefficients become ``B⁺ Π_E A``), and the
        same for the subspace layers this one holds (a separate bias)."""
        for layer in subspace_layers(self):
            a = layer.weight_flat().to(torch.float64)
            layer.coef.copy_(layer.space.coefficients(layer.geometry.project_E(a))
                             .to(layer.coef.dtype))

    @torch.no_grad()
    def distance_to_E(self, relative: bool = False) -> float:
        """``‖A − Π_E A‖`` of this block's own weights (or divided by ``‖A‖`` when
        ``relative``); a separate bias is a layer of its own (``bias_layer``)."""
        a = self.weight_flat().to(torch.float64)
        d = float(self.geometry.distance_to_E(a))
        return d / max(float(a.norm()), 1e-300) if relative else d

    def export(self) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        eq = self.geometry.equivariant
        return (f"{eq.rep_in.name} -> {eq.rep_out.name}, weight {self.weight_shape}, "
                f"dim L={self.space.n_coef}, dim E={self.geometry.dim_E}")


class SubspaceBias(SubspaceLayer):
    """A bias ``b ∈ L_b ⊆ Hom_G(1, V_out)``: a map from the trivial representation, so its
    equivariant part is the fixed vectors of ``ρ_out`` (for ``c`` regular channels of C4: one
    value per copy, repeated over the 4 orientations).

    It is a subspace layer of its own (own coefficients, ``L_b``, ``E_b``), held by a
    :class:`SubspaceLinear` or convolution as ``bias_layer``; the network-level diagnostics see
    it as one more layer. The weight shape is ``(d_out, 1)`` (a map ``ℝ → V_out``).

    Args:
        rep_out: the representation on the outputs (the channels, for a convolution).
        space: ``L_b``: ``None`` (all biases), a ``(d_out,)`` mask or an admissible space of
            shape ``(d_out, 1)``.
        channel_dim: the dimension of the input the bias is added along (``-1`` for vectors,
            ``1`` for feature maps ``(batch, C, ...)``).
        fan_in: scale of the initial values, ``N(0, 1/fan_in)`` (the parent layer's fan-in).
    """

    def __init__(self, rep_out: Representation, *, space: AdmissibleSpace | Tensor | None = None,
                 channel_dim: int = -1, fan_in: int = 1, cache: BasisCache | None = None,
                 dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.out_features, self.channel_dim = rep_out.dim, channel_dim
        self.weight_shape = (rep_out.dim, 1)
        if isinstance(space, Tensor) and tuple(space.shape) == (rep_out.dim,):
            space = space.reshape(rep_out.dim, 1)
        geometry = LayerGeometry(_make_space(self.weight_shape, space), solve_equivariant(
            rep_out.group.rep("trivial"), rep_out, cache=cache))
        self._init_coef(geometry, fan_in, dtype, generator)

    def vector(self) -> Tensor:
        """``b``, ``(d_out,)``."""
        return self.weight_flat()

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        shape = [1] * x.dim()
        shape[self.channel_dim] = self.out_features
        return x + weight.reshape(shape).to(x.dtype)

    def export(self) -> nn.Module:
        raise SubspaceError("a SubspaceBias is exported with the layer that holds it "
                            "(export the whole network or that layer)")


def _bias_mode(bias: bool | str) -> str:
    modes = {False: "none", True: "column", "none": "none", "column": "column",
             "separate": "separate"}
    if not isinstance(bias, (bool, str)) or bias not in modes:
        raise SubspaceError(f"bias must be False, True/'column' or 'separate', got {bias!r}")
    return modes[bias]


class SubspaceLinear(SubspaceLayer):
    """``y = A x (+ b)`` with ``A ∈ L ⊆ Hom(V_in, V_out)``; ``A`` has shape ``(d_out, d_in)``
    and acts on the last dimension of ``x``.

    Args:
        rep_in, rep_out: representations on inputs (``d_in``) and outputs (``d_out``).
        space: the admissible space (weight shape ``(d_out, d_in)``, or ``(d_out, d_in + 1)``
            with a column bias), a mask of that shape, or ``None`` for the whole space.
        bias: ``False``; ``"separate"`` — the bias is its own :class:`SubspaceBias` layer
            (``self.bias_layer``) in ``Hom_G(1, V_out)`` with space ``bias_space``; ``True`` or
            ``"column"`` — the bias is the last column of ``A``, so one space covers
            ``[W | b] ∈ Hom(V_in ⊕ 1, V_out)`` (the input representation becomes ``ρ_in ⊕ 1``).
            The equivariant subspace is the same either way (``Hom_G`` of a direct sum splits);
            they differ in ``L`` and in how the layers are listed.
        bias_space: ``L_b`` of a separate bias (see :class:`SubspaceBias`).
        cache: a :class:`~quotient.dynamics.BasisCache` shared between layers.
        dtype: dtype of the coefficients (float64 for exact experiments).
        generator: randomness of the initial coefficients.
    """

    def __init__(self, rep_in: Representation, rep_out: Representation, *,
                 space: AdmissibleSpace | Tensor | None = None, bias: bool | str = False,
                 bias_space: AdmissibleSpace | Tensor | None = None,
                 cache: BasisCache | None = None, dtype: torch.dtype = torch.float64,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.bias_mode = _bias_mode(bias)
        self.in_features, self.out_features = rep_in.dim, rep_out.dim
        self.bias = self.bias_mode != "none"
        column = self.bias_mode == "column"
        rin = direct_sum(rep_in, rep_in.group.rep("trivial")) if column else rep_in
        self.weight_shape = (rep_out.dim, rin.dim)
        geometry = LayerGeometry(_make_space(self.weight_shape, space),
                                 solve_equivariant(rin, rep_out, cache=cache))
        self._init_coef(geometry, rin.dim, dtype, generator)
        self.bias_layer = SubspaceBias(rep_out, space=bias_space, fan_in=rep_in.dim, cache=cache,
                                       dtype=dtype, generator=generator) \
            if self.bias_mode == "separate" else None

    def _forward(self, x: Tensor, weight: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise SubspaceError(f"expected inputs (..., {self.in_features}), got "
                                f"{tuple(x.shape)}")
        if self.bias_mode == "column":
            return F.linear(x, weight[:, :-1].to(x.dtype), weight[:, -1].to(x.dtype))
        b = None if self.bias_layer is None else self.bias_layer.vector().to(x.dtype)
        return F.linear(x, weight.to(x.dtype), b)

    def export(self) -> nn.Linear:
        """A plain :class:`torch.nn.Linear` with the current weights (and bias)."""
        w = self.weight().detach()
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias, dtype=w.dtype)
        with torch.no_grad():
            if self.bias_mode == "column":
                out.weight.copy_(w[:, :-1])
                out.bias.copy_(w[:, -1])
            else:
                out.weight.copy_(w)
                if self.bias_layer is not None:
                    out.bias.copy_(self.bias_layer.vector().detach())
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
    """A deep copy of ``model`` with every subspace layer replaced by its plain torch module
    (``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``, with the current weights and biases); the
    other modules and the nesting are kept."""
    if isinstance(model, SubspaceLayer):
        return model.export()
    out = copy.deepcopy(model)

    def swap(module: nn.Module) -> None:
        for attr, sub in list(module.named_children()):
            if isinstance(sub, SubspaceLayer):
                setattr(module, attr, sub.export())
            else:
                swap(sub)

    swap(out)
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
