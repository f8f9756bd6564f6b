"""One symmetry report for every group-invariant autoencoder.

For a model whose :attr:`~quotient.models.GIAE.symmetry` promises ``z(g·x) = z(x)``,
``ψ(g·x) = g∘ψ(x)`` and ``x̂(g·x) = g·x̂(x)``, :func:`symmetry_report` measures how well each
promise holds on data, in the model's dtype and again in float64:

* on the **exact** group (every non-identity element of a small finite group, applied to every
  sample; one random element per sample otherwise), where the errors should sit at rounding;
* on random elements of an **approximate** group the model declares (``model.approximate``,
  e.g. all of SO(2) for an encoder exact under quarter turns), where they are learned.

The pose (and with it the reconstruction) is equivariant only where it is unique: for an input
with a symmetry of its own (a multiset with repeated elements, a graph with automorphisms, a
shape with a rotational symmetry) any element of that stabiliser is an equally good pose, so
``pose_err`` and ``rec_err`` measure only on inputs without one; ``inv_err`` and ``canon_err``
(the canonical form is the same whichever pose was picked) hold everywhere.

Metric names (``S`` = ``exact`` or ``any``):

=========================== =========================================================
``inv_err_S``               ``‖z(g·x) − z(x)‖ / σ_z``, σ_z the spread of the codes: the worst
                            sample (exact) or the mean (any); ``_p50``, ``_p99``, ``_p999``
                            percentiles, ``_f64`` the worst in float64
``pose_err_S_<part>``       the pose head's own units (``angle_deg``, ``cells``, ``rotation``,
                            ``translation``, ``order`` = share of samples whose order is
                            not σ∘order): worst (exact) or mean (any); ``_mean`` for exact
``rec_err_S``               ``‖x̂(g·x) − g·x̂(x)‖ / ‖g·x̂(x)‖``: worst (exact) or mean (any)
``canon_err_S``             ``‖c(g·x) − c(x)‖ / ‖c(x)‖`` with ``c = model.canonicalize`` (the
                            input in canonical pose): worst (exact) or mean (any);
                            ``canon_same_exact`` the share of samples where it is exactly 0
=========================== =========================================================
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..groups import Element, FiniteGroup, Group, batch_size, index_element, repeat_element
from ..symmetry import Symmetry
from ..testing import flatten_output

__all__ = ["EmbeddingView", "SymmetryReport", "symmetry_report"]


class EmbeddingView(nn.Module):
    """A model without a declared symmetry (a baseline autoencoder) seen through its code:
    ``forward(x) = {"z": model.embed(x)}``, with the symmetry it is measured against, so
    :func:`symmetry_report` reports the invariance of its code (nothing else is promised).

    Args:
        model: any module with ``embed(x) -> z (B, d)``.
        exact: group and input action of the exact check (its output actions are ignored).
        approximate: the same for the approximate check, or ``None``.
    """

    def __init__(self, model: nn.Module, exact: Symmetry,
                 approximate: Symmetry | None = None) -> None:
        super().__init__()
        self.model = model
        self.symmetry = Symmetry(exact.group, exact.input, {"z": None}, note=exact.note)
        self.approximate = (None if approximate is None else
                            Symmetry(approximate.group, approximate.input, {"z": None},
                                     note=approximate.note))

    def forward(self, x: Any) -> dict[str, Tensor]:
        return {"z": self.model.embed(x)}


@dataclass
class SymmetryReport:
    """Metrics (flat, named as in the module docstring) and the per-sample errors behind them
    (``samples[setting][quantity]``, e.g. ``samples["exact"]["inv"]``, ``(N,)``; for an
    enumerated finite group the worst over its elements)."""

    metrics: dict[str, float] = field(default_factory=dict)
    samples: dict[str, dict[str, Tensor]] = field(default_factory=dict)


def _size(x: Any) -> int:
    return int((x[0] if isinstance(x, (tuple, list)) else x).shape[0])


def _take(x: Any, idx: slice | Tensor) -> Any:
    if isinstance(x, (tuple, list)):
        return type(x)(_take(p, idx) for p in x)
    return x[idx]


def _to(x: Any, dtype: torch.dtype) -> Any:
    if isinstance(x, (tuple, list)):
        return type(x)(_to(p, dtype) for p in x)
    if isinstance(x, dict):
        return {k: _to(v, dtype) for k, v in x.items()}
    return x.to(dtype) if isinstance(x, Tensor) and x.is_floating_point() else x


def _chunks(n: int, batch: int) -> Iterator[slice]:
    for start in range(0, n, batch):
        yield slice(start, min(n, start + batch))


def _cat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, Tensor):
        return torch.cat(parts)
    if isinstance(first, tuple):
        return tuple(_cat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _cat([p[k] for p in parts]) for k in first}
    raise TypeError(f"cannot concatenate {type(first).__name__} outputs")


def _observe(model: nn.Module, sym: Symmetry, x: Any, batch: int) -> Any:
    with torch.no_grad():
        return _cat([sym.observed(model(_take(x, s))) for s in _chunks(_size(x), batch)])


def _act(act: Callable, g: Element, x: Any, batch: int) -> Any:
    return _cat([act(index_element(g, s), _take(x, s)) for s in _chunks(_size(x), batch)])


def _elements(group: Group, n: int, generator: torch.Generator) -> list[Element]:
    """Non-identity elements, each for every sample (small finite groups), or one batch of
    ``n`` random elements, one per sample."""
    from ..testing.checker import MAX_ENUMERATED

    if isinstance(group, FiniteGroup) and group.order <= MAX_ENUMERATED:
        every = group.elements()
        return [repeat_element(index_element(every, i), n) for i in range(1, batch_size(every))]
    return [group.sample(n, generator=generator, dtype=torch.float64)]


def _errors(sym: Symmetry, model: nn.Module, x: Any, ref: Any, g: Element,
            batch: int) -> dict[str, Tensor]:
    """Per-sample errors of one batch of elements (one per sample)."""

    moved = _act(sym.input, g, _to(x, torch.float64), batch)
    got = _observe(model, sym, _to(moved, _dtype(model)), batch)
    want = sym.act_output(g, _to(ref, torch.float64))
    spread = (ref["z"].double() - ref["z"].double().mean(0)).pow(2).sum(1).mean().sqrt()
    out = {"inv": (got["z"].double() - ref["z"].double()).norm(dim=1)
           / spread.clamp_min(1e-300)}
    if sym.measure is not None and "pose" in got:
        out.update({k: v.double() for k, v in sym.measure(_to(got, torch.float64),
                                                          want).items()})
    if "reconstruction" in got:
        out["rec"] = relative_difference(got["reconstruction"], want["reconstruction"])
    return out


def _dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _canonical(model: nn.Module, x: Any, batch: int) -> Any | None:
    fn = getattr(model, "canonicalize", None)
    if fn is None:
        return None
    try:
        with torch.no_grad():
            return _cat([_to(fn(_take(x, s))[0], torch.float64)
                         for s in _chunks(_size(x), batch)])
    except TypeError:  # a pose head without an inverse: nothing to measure
        return None


def _measure(sym: Symmetry, model: nn.Module, x: Any, n: int, generator: torch.Generator,
             batch: int, group: Group | None = None) -> dict[str, Tensor]:

    ref = _observe(model, sym, x, batch)
    ref_canon = _canonical(model, x, batch)
    worst: dict[str, Tensor] = {}
    for g in _elements(group or sym.group_for(x), n, generator):
        errs = _errors(sym, model, x, ref, g, batch)
        if ref_canon is not None:
            moved = _to(_act(sym.input, g, _to(x, torch.float64), batch), _dtype(model))
            errs["canon"] = relative_difference(_canonical(model, moved, batch), ref_canon)
        for key, err in errs.items():
            worst[key] = err if key not in worst else torch.maximum(worst[key], err)
    return worst


def _summarise(errs: dict[str, Tensor], setting: str, exact: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, err in errs.items():
        name = {"inv": "inv_err", "rec": "rec_err", "canon": "canon_err"}.get(key)
        name = f"{name}_{setting}" if name else f"pose_err_{setting}_{key[5:]}".rstrip("_")
        head = float(err.max() if exact else err.mean())
        out[name] = head
        if key == "inv":
            for q, tag in ((0.5, "p50"), (0.99, "p99"), (0.999, "p999")):
                out[f"{name}_{tag}"] = float(err.quantile(q))
        elif exact and key.startswith("pose_"):
            out[f"{name}_mean"] = float(err.mean())
        elif exact and key == "canon":
            out[f"canon_same_{setting}"] = float((err == 0).double().mean())
    return out


def symmetry_report(
    model: nn.Module,
    x: Any,
    *,
    generator: torch.Generator | None = None,
    float64_samples: int = 500,
    approximate: bool = True,
    batch_size: int = 500,
    group: Group | None = None,
) -> SymmetryReport:
    """Measure a GIAE's exact (and declared approximate) symmetry on data ``x``.

    Args:
        model: a :class:`~quotient.models.GIAE` (or any module whose ``symmetry`` observes a
            dict with ``z``, ``pose`` and ``reconstruction``); evaluated in ``eval()`` mode.
        x: inputs (a tensor with batch first, or a tuple such as ``(x, mask)``).
        generator: randomness for the sampled elements (default: seeded with 0).
        float64_samples: how many samples to re-check in float64 on a copy of the model
            (0: skip).
        approximate: also measure ``model.approximate`` when it is declared.
        batch_size: evaluation chunk size.
        group: the exact group to sample from instead of the declared one (the same group with
            another sampling distribution, e.g. translations on the data's scale).

    Returns:
        A :class:`SymmetryReport`.

    Raises:
        TypeError: the model declares no symmetry.
    """
    sym = getattr(model, "symmetry", None)
    if not isinstance(sym, Symmetry):
        raise TypeError(f"{type(model).__name__} declares no symmetry to report on")
    generator = generator or torch.Generator().manual_seed(0)
    was_training = model.training
    model.eval()
    report = SymmetryReport()
    try:
        x = _to(x, _dtype(model))
        n = _size(x)
        errs = _measure(sym, model, x, n, generator, batch_size, group)
        report.samples["exact"] = errs
        report.metrics.update(_summarise(errs, "exact", True))
        if float64_samples > 0:
            if _dtype(model) == torch.float64:  # the exact pass was float64 already
                errs64 = errs
            else:
                model64 = copy.deepcopy(model).double().eval()
                k = min(n, float64_samples)
                errs64 = _measure(model64.symmetry, model64, _to(_take(x, slice(0, k)),
                                                                 torch.float64), k, generator,
                                  batch_size, group)
            report.samples["exact_f64"] = errs64
            report.metrics.update({f"{name}_f64": value for name, value in
                                   _summarise(errs64, "exact", True).items()
                                   if not name.endswith(("_p50", "_p99", "_p999", "_mean"))})
        approx = getattr(model, "approximate", None)
        if approximate and isinstance(approx, Symmetry):
            errs_any = _measure(approx, model, x, n, generator, batch_size)
            report.samples["any"] = errs_any
            report.metrics.update(_summarise(errs_any, "any", False))
    finally:
        model.train(was_training)
    return report


def relative_difference(a: Any, b: Any) -> Tensor:
    """Per-sample ``‖a − b‖ / ‖b‖`` of two outputs of the same structure (``(B,)``)."""
    fa, fb = flatten_output(a), flatten_output(b)
    return (fa - fb).norm(dim=1) / fb.norm(dim=1).clamp_min(1e-300)
