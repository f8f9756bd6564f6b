"""Per-layer diagnostics of a subspace-parametrised network: one row per subspace layer (a
separate bias is a row of its own) with ``L``, ``H_G``, ``E``, compatibility and distance to
``E``; the network totals follow from the rows (projections act layer by layer, so the
network's commutator is the largest layer commutator and the dimensions add up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from ._errors import SubspaceError
from .geometry import CompatibilityReport
from .layers import SubspaceLayer


@dataclass(frozen=True)
class LayerReport:
    """One subspace layer.

    Attributes:
        name: the module's name in the network (``"0"``, ``"0.bias_layer"``, ``"head.2"``).
        kind: its class name.
        rep_in, rep_out: names of the representations of the map (``Hom(rep_in, rep_out)``).
        weight_shape: shape of its weights.
        orthonormal: whether the coefficient basis of ``L`` is orthonormal.
        dim_L, dim_G, dim_E: dimensions of ``L``, ``H_G`` and ``E = L ∩ H_G``.
        commutator: ``‖Π_L Π_G − Π_G Π_L‖₂`` (0 iff compatible).
        invariance_defect: ``max ‖(I − Π_L) ρ̄ Π_L‖₂`` over generators (0 iff ρ̄-invariant).
        distance: ``‖A − Π_E A‖``; relative_distance: the same over ``‖A‖``.
    """

    name: str
    kind: str
    rep_in: str
    rep_out: str
    weight_shape: tuple[int, ...]
    orthonormal: bool
    dim_L: int
    dim_G: int
    dim_E: int
    commutator: float
    invariance_defect: float
    distance: float
    relative_distance: float


@dataclass(frozen=True)
class NetworkReport:
    """Every layer's :class:`LayerReport` and the network totals.

    Attributes:
        layers: the rows, in registration order.
        total: the network's :class:`~quotient.dynamics.CompatibilityReport`.
        distance: ``‖A − Π_E A‖`` over all layers.
    """

    layers: tuple[LayerReport, ...]
    total: CompatibilityReport
    distance: float

    def table(self) -> str:
        """A plain-text table, one line per layer and a total line."""
        head = (f"{'layer':<16} {'kind':<15} {'dim L':>6} {'dim H_G':>7} {'dim E':>6} "
                f"{'commutator':>10} {'dist to E':>9} basis")
        lines = [head]
        for r in self.layers:
            lines.append(f"{r.name:<16} {r.kind:<15} {r.dim_L:>6} {r.dim_G:>7} {r.dim_E:>6} "
                         f"{r.commutator:>10.3g} {r.distance:>9.3g} "
                         f"{'orthonormal' if r.orthonormal else 'non-orthonormal'}")
        t = self.total
        lines.append(f"{'total':<16} {'':<15} {t.dim_L:>6} {t.dim_G:>7} {t.dim_E:>6} "
                     f"{t.commutator:>10.3g} {self.distance:>9.3g} "
                     f"{'compatible' if t.compatible else 'INCOMPATIBLE'}")
        return "\n".join(lines)


def compatibility_report(model: nn.Module, tol: float = 1e-10) -> NetworkReport:
    """The per-layer report of ``model`` (see :class:`LayerReport`).

    Raises:
        SubspaceError: the model has no subspace layers (convert it first with
            :func:`~quotient.dynamics.convert`).
    """
    rows = []
    for name, m in model.named_modules():
        if not isinstance(m, SubspaceLayer):
            continue
        comp = m.geometry.compatibility(tol)
        eq = m.geometry.equivariant
        rows.append(LayerReport(name or type(m).__name__, type(m).__name__, eq.rep_in.name,
                                eq.rep_out.name, tuple(m.weight_shape), m.space.orthonormal,
                                comp.dim_L, comp.dim_G, comp.dim_E, comp.commutator,
                                comp.invariance_defect, m.distance_to_E(),
                                m.distance_to_E(relative=True)))
    if not rows:
        raise SubspaceError(f"{type(model).__name__} has no subspace layers; convert it first "
                            "(quotient.dynamics.convert)")
    comm = max(r.commutator for r in rows)
    inv = max(r.invariance_defect for r in rows)
    total = CompatibilityReport(comm, comm <= tol, inv, inv <= tol, sum(r.dim_L for r in rows),
                                sum(r.dim_G for r in rows), sum(r.dim_E for r in rows), tol)
    return NetworkReport(tuple(rows), total, math.sqrt(sum(r.distance ** 2 for r in rows)))
