"""Equivariance testing: a public, scale-aware checker for any callable.

For group elements ``g`` the checker compares ``f(g·x)`` with ``g·f(x)``. The group action is
always applied in float64, so its rounding is never blamed on ``f``. The relative error of one
sample is

    err = ‖f(g·x) − g·f(x)‖ / (‖f(x)‖ · min(1, ‖g·x − x‖ / ‖x‖)),

normalised by how much ``g`` actually moved ``x``: an element that barely moves ``x`` (near the
identity, or in the stabiliser of ``x``) does not make a broken ``f`` look equivariant; its error
is magnified instead. Inputs that *no* tested element moves cannot be tested, and raise.

Which elements: every element of a finite group of at most :data:`MAX_ENUMERATED` elements (a
function invariant under the half turn only fails a C4 check for every seed); for larger finite
groups the generators and ``n_elements`` random ones; for Lie groups ``n_elements`` random ones.
An :class:`~quotient.actions.Action` that declares the groups it is written for is refused with
a clear error for any other group (the elements would be misread). Outputs may be tensors, or
tuples, lists, dicts and dataclasses of tensors (and poses, compared by their elements); they
are compared leaf by leaf.

>>> import torch
>>> from quotient.groups import SymmetricGroup
>>> from quotient.actions import permute_set
>>> x = torch.randn(8, 5, 3, dtype=torch.float64)
>>> report = assert_equivariant(lambda s: s - s.mean(1, keepdim=True), SymmetricGroup(5),
...                             permute_set, permute_set, x)
>>> report.error < 1e-12
True
>>> _ = assert_invariant(lambda s: s.sum(1), SymmetricGroup(5), permute_set, x)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..actions import Action, identity_action
from ..groups import (
    Element,
    FiniteGroup,
    Group,
    batch_size,
    cat_elements,
    element_to,
    index_element,
    repeat_element,
)

TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2,
              torch.bfloat16: 1e-2}
"""Default relative tolerances by the dtype ``f`` computes in."""

MIN_MOVE = 1e-6
"""Samples moved by less than this (relative) are uninformative and are skipped."""

MAX_ENUMERATED = 512
"""Finite groups up to this order are checked on every element."""

__all__ = ["MAX_ENUMERATED", "TOLERANCES", "EquivarianceReport", "assert_equivariant",
           "assert_invariant", "check_module", "equivariance_error", "flatten_output",
           "elements_to_test"]


@dataclass(frozen=True)
class EquivarianceReport:
    """The result of :func:`equivariance_error`.

    Attributes:
        error: the worst relative error over elements and samples.
        errors: per element, the worst relative error over samples, ``(n_elements,)``.
        moved: per element, the median relative movement ``‖g·x − x‖/‖x‖`` of the inputs.
        dtype: the dtype ``f`` was evaluated in.
        tolerance: the default tolerance for that dtype.
        elements: the elements tested (a batch).
        described: each tested element in words (``group.describe``).
        group: the group's name.
    """

    error: float
    errors: Tensor
    moved: Tensor
    dtype: torch.dtype
    tolerance: float
    elements: Any = None
    described: tuple[str, ...] = ()
    group: str = ""

    def __float__(self) -> float:
        return self.error

    @property
    def worst(self) -> str:
        """The element with the largest error, in words."""
        i = int(self.errors.argmax())
        return self.described[i] if i < len(self.described) else f"element #{i}"


def _flatten_input(x: Any, where: str) -> Tensor:
    """Like :func:`flatten_output`, but parts that are not data (a module a feature object
    carries along, a string) are skipped: they do not move."""
    parts = _leaves(x, where, lenient=True)
    if not parts:
        raise TypeError(f"{where} holds no tensors")
    return torch.cat(parts, dim=1)


def flatten_output(y: Any, where: str = "output") -> Tensor:
    """Per-sample flattened float64 view ``(batch, -1)`` of a tensor, or of the tensors in a
    tuple, list, dict (in key order), dataclass (in field order, ``None`` fields skipped) or
    :class:`~quotient.nn.pose.Pose` (its element).

    Raises:
        TypeError: a part is neither a tensor nor such a container, naming where.
    """
    parts = _leaves(y, where)
    if not parts:
        raise TypeError(f"{where} holds no tensors to compare")
    return torch.cat(parts, dim=1)


def _leaves(y: Any, where: str, lenient: bool = False) -> list[Tensor]:
    from ..nn.pose import Pose

    def more(part: Any, at: str) -> list[Tensor]:
        return _leaves(part, at, lenient)

    if isinstance(y, Tensor):
        if y.dim() == 0:
            raise TypeError(f"{where} is a scalar; a batched output (batch, ...) is needed")
        return [y.detach().reshape(y.shape[0], -1).to(torch.float64)]
    if y is None:
        return []
    if isinstance(y, Pose):
        return more(y.element, f"{where}.element")
    if isinstance(y, (tuple, list)):
        return [leaf for i, part in enumerate(y) for leaf in more(part, f"{where}[{i}]")]
    if isinstance(y, Mapping):
        return [leaf for k in sorted(y, key=str) for leaf in more(y[k], f"{where}[{k!r}]")]
    if dataclasses.is_dataclass(y) and not isinstance(y, type):
        return [leaf for f in dataclasses.fields(y)
                for leaf in more(getattr(y, f.name), f"{where}.{f.name}")]
    if lenient:
        return []
    raise TypeError(
        f"{where} is a {type(y).__name__}, which the checker cannot compare; return tensors "
        "(or tuples, dicts or dataclasses of them), or declare Symmetry(observe=...) to pick "
        "the tensors the promise is about")


def _cast(x: Any, dtype: torch.dtype) -> Any:
    if isinstance(x, tuple):
        return tuple(_cast(p, dtype) for p in x)
    if isinstance(x, list):
        return [_cast(p, dtype) for p in x]
    if isinstance(x, Mapping):
        return {k: _cast(v, dtype) for k, v in x.items()}
    if isinstance(x, Tensor):
        return x.to(dtype) if x.is_floating_point() else x
    return x


def _infer_dtype(f: Callable, x: Any) -> torch.dtype:
    if isinstance(f, torch.nn.Module):
        for p in f.parameters():
            if p.is_floating_point():
                return p.dtype
    ref = _first_float(x)
    return ref.dtype if ref is not None else torch.float64


def _first_float(x: Any) -> Tensor | None:
    """The first floating-point tensor in a (nested) input, in its own dtype."""
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else None
    parts = (list(x.values()) if isinstance(x, Mapping) else list(x)
             if isinstance(x, (tuple, list)) else [])
    for part in parts:
        found = _first_float(part)
        if found is not None:
            return found
    return None


def elements_to_test(group: Group, n_elements: int = 5, *,
                  generator: torch.Generator | None = None) -> Element:
    """The elements the checker tests by default: all elements of a finite group of at most
    :data:`MAX_ENUMERATED` elements; else the generators of a finite group plus
    ``n_elements`` random ones; else ``n_elements`` random ones."""
    if isinstance(group, FiniteGroup) and group.order <= MAX_ENUMERATED:
        return group.elements()
    if n_elements < 1:
        raise ValueError("n_elements must be at least 1")
    random = group.sample(n_elements, generator=generator, dtype=torch.float64)
    if isinstance(group, FiniteGroup):
        return cat_elements([group.generators(), random])
    return random


def _check_action(act: Any, group: Group, side: str) -> None:
    if isinstance(act, Action):
        act.check_group(group)
    elif isinstance(act, (tuple, list)):
        for a in act:
            _check_action(a, group, side)
    elif isinstance(act, Mapping):
        for a in act.values():
            _check_action(a, group, side)


def _act_output(act_out: Any, g: Element, y: Any) -> Any:
    from ..symmetry import act_on_output

    return act_on_output(act_out, g, y)


def equivariance_error(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    act_out: Any,
    x: Any,
    *,
    n_elements: int = 5,
    elements: Element | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    observe: Callable[[Any], Any] | None = None,
) -> EquivarianceReport:
    """Measure how far ``f`` is from ``f(g·x) = g·f(x)``.

    Args:
        f: the function or module; called on a batch.
        group: the group ``G``.
        act_in: action on inputs, ``act_in(g, x)`` with one element per sample.
        act_out: action on outputs — :data:`~quotient.actions.identity_action` (or ``None``)
            for invariance, or a tuple / dict of actions for structured outputs.
        x: a batch of inputs (a tensor with batch first, or a tuple of them).
        n_elements: random elements to test where the group is not enumerated (see
            :func:`elements_to_test`).
        elements: explicit elements to test instead (a batch).
        generator: randomness for sampling elements.
        dtype: the dtype ``f`` computes in; inferred from its parameters or from ``x``.
        observe: ``f(x) -> the parts to compare`` (default: all of it).

    Returns:
        An :class:`EquivarianceReport`; ``float(report)`` is the worst relative error.

    Raises:
        ValueError: an action is written for another group, no tested element moves any input
            (the check would be vacuous), or ``f`` returns NaN or infinite values.
        TypeError: ``f`` returns something other than tensors (or containers of them).
    """
    _check_action(act_in, group, "input")
    _check_action(act_out, group, "output")
    dtype = dtype or _infer_dtype(f, x)
    x64 = _cast(x, torch.float64)
    x_flat = _flatten_input(x64, "x")
    b = x_flat.shape[0]
    if elements is None:
        elements = elements_to_test(group, n_elements, generator=generator)
    elements = element_to(elements, torch.float64)
    k = batch_size(elements)
    see = observe or (lambda y: y)

    with torch.no_grad():
        fx64 = _cast(see(f(_cast(x64, dtype))), torch.float64)
        fx_flat = flatten_output(fx64, "f(x)")
        if not torch.isfinite(fx_flat).all():
            raise ValueError("f(x) has NaN or infinite values; the check needs finite outputs")
        fx_norm = fx_flat.norm(dim=1)
        x_norm = x_flat.norm(dim=1).clamp_min(1e-300)
        errors, moved = [], []
        for i in range(k):
            g = repeat_element(index_element(elements, i), b)
            gx = act_in(g, x64)
            move = (_flatten_input(gx, "g·x") - x_flat).norm(dim=1) / x_norm
            lhs = flatten_output(_cast(see(f(_cast(gx, dtype))), torch.float64), "f(g·x)")
            rhs = flatten_output(_act_output(act_out, g, fx64), "g·f(x)")
            if lhs.shape != rhs.shape:
                raise ValueError(f"f(g·x) has {lhs.shape[1]} numbers per sample but g·f(x) has "
                                 f"{rhs.shape[1]}; the output action does not fit the output")
            num = (lhs - rhs).norm(dim=1)
            # a zero output is trivially equivariant; otherwise scale by the output size
            scale = torch.maximum(fx_norm, rhs.norm(dim=1)).clamp_min(1e-300)
            rel = num / (scale * move.clamp(max=1.0))
            informative = move > MIN_MOVE
            rel = torch.where(num == 0, torch.zeros_like(rel), rel)
            errors.append(rel[informative].max() if informative.any() else torch.tensor(-1.0))
            moved.append(move.median())
    errs = torch.stack(errors)
    if (errs < 0).all():
        raise ValueError(
            "none of the tested group elements moves the inputs (‖g·x − x‖ ≈ 0): the check "
            "would be vacuous; pass inputs without that symmetry (e.g. random ones) or other "
            "elements")
    if not torch.isfinite(errs).all():
        raise ValueError("f(g·x) has NaN or infinite values")
    errs = errs.clamp_min(0.0)
    described = tuple(group.describe(elements)) if hasattr(group, "describe") else ()
    return EquivarianceReport(float(errs.max()), errs, torch.stack(moved), dtype,
                              TOLERANCES.get(dtype, 1e-5), elements, described, group.name)


def _invariant(act_out: Any) -> bool:
    return act_out is None or act_out is identity_action


def assert_equivariant(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    act_out: Any,
    x: Any,
    *,
    tol: float | None = None,
    n_elements: int = 5,
    elements: Element | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    observe: Callable[[Any], Any] | None = None,
) -> EquivarianceReport:
    """Raise ``AssertionError`` unless ``f(g·x) = g·f(x)`` to relative tolerance ``tol``.

    ``tol`` defaults to :data:`TOLERANCES` for the dtype ``f`` computes in (1e-10 in float64,
    1e-5 in float32). The message names the worst element in words. Returns the report when
    the check passes.
    """
    rep = equivariance_error(f, group, act_in, act_out, x, n_elements=n_elements,
                             elements=elements, generator=generator, dtype=dtype,
                             observe=observe)
    tol = rep.tolerance if tol is None else tol
    if not rep.error <= tol:
        worst = int(rep.errors.argmax())
        failing = int((rep.errors > tol).sum())
        what = "invariant" if _invariant(act_out) else "equivariant"
        raise AssertionError(
            f"not {what} under {group.name}: relative error {rep.error:.3g} > {tol:.1g} for "
            f"{rep.worst} ({failing} of {len(rep.errors)} elements fail; it moved the inputs "
            f"by {float(rep.moved[worst]):.3g}; evaluated in {str(rep.dtype)[6:]})")
    return rep


def assert_invariant(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    x: Any,
    **kwargs: Any,
) -> EquivarianceReport:
    """Raise ``AssertionError`` unless ``f(g·x) = f(x)``; see :func:`assert_equivariant`."""
    return assert_equivariant(f, group, act_in, None, x, **kwargs)


def check_module(module: Any, x: Any, **kwargs: Any) -> EquivarianceReport:
    """Check a module against the :class:`~quotient.symmetry.Symmetry` it declares as its
    ``symmetry`` attribute (group, input action, output actions and what to observe).

    Raises:
        TypeError: the module declares no symmetry.
        AssertionError: it does not keep its promise (see :func:`assert_equivariant`).
    """
    from ..symmetry import Symmetry

    sym = getattr(module, "symmetry", None)
    if not isinstance(sym, Symmetry):
        raise TypeError(
            f"{type(module).__name__} declares no symmetry; equivariant modules set "
            "symmetry = quotient.symmetry.Symmetry(group, input_action, output_actions)")
    return assert_equivariant(module, sym.group_for(x), sym.input, sym.output, x,
                              observe=sym.observe, **kwargs)
