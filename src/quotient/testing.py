"""Equivariance testing: a public, scale-aware checker for any callable.

For random group elements ``g`` the checker compares ``f(g·x)`` with ``g·f(x)``. The group action
is always applied in float64, so its rounding is never blamed on ``f``. The relative error of one
sample is

    err = ‖f(g·x) − g·f(x)‖ / (‖f(x)‖ · min(1, ‖g·x − x‖ / ‖x‖)),

normalised by how much ``g`` actually moved ``x``: an element that barely moves ``x`` (near the
identity, or in the stabiliser of ``x``) does not make a broken ``f`` look equivariant; its error
is magnified instead. Inputs that *no* sampled element moves cannot be tested, and raise.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .actions import Action, identity_action
from .groups import Element, Group, element_to, repeat_element

TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2,
              torch.bfloat16: 1e-2}
"""Default relative tolerances by the dtype ``f`` computes in."""

MIN_MOVE = 1e-6
"""Samples moved by less than this (relative) are uninformative and are skipped."""


@dataclass(frozen=True)
class EquivarianceReport:
    """The result of :func:`equivariance_error`.

    Attributes:
        error: the worst relative error over elements and samples.
        errors: per element, the worst relative error over samples, ``(n_elements,)``.
        moved: per element, the median relative movement ``‖g·x − x‖/‖x‖`` of the inputs.
        dtype: the dtype ``f`` was evaluated in.
        tolerance: the default tolerance for that dtype.
    """

    error: float
    errors: Tensor
    moved: Tensor
    dtype: torch.dtype
    tolerance: float

    def __float__(self) -> float:
        return self.error


def _flat(x: Any) -> Tensor:
    """Per-sample flattened float64 view of a tensor or a tuple of tensors, ``(batch, -1)``."""
    if isinstance(x, (tuple, list)):
        return torch.cat([_flat(p) for p in x], dim=1)
    if not isinstance(x, Tensor):
        raise TypeError(f"equivariance checks need tensors, got {type(x).__name__}")
    return x.detach().reshape(x.shape[0], -1).to(torch.float64)


def _cast(x: Any, dtype: torch.dtype) -> Any:
    if isinstance(x, tuple):
        return tuple(_cast(p, dtype) for p in x)
    return x.to(dtype) if x.is_floating_point() else x


def _infer_dtype(f: Callable, x: Any) -> torch.dtype:
    if isinstance(f, torch.nn.Module):
        for p in f.parameters():
            if p.is_floating_point():
                return p.dtype
    ref = x[0] if isinstance(x, tuple) else x
    return ref.dtype if ref.is_floating_point() else torch.float64


def equivariance_error(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    act_out: Action | Callable,
    x: Any,
    *,
    n_elements: int = 5,
    elements: Element | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> EquivarianceReport:
    """Measure how far ``f`` is from ``f(g·x) = g·f(x)``.

    Args:
        f: the function or module; called on a batch.
        group: the group ``G``.
        act_in: action on inputs, ``act_in(g, x)`` with one element per sample.
        act_out: action on outputs (:func:`~quotient.actions.identity_action` for invariance).
        x: a batch of inputs (a tensor with batch first, or a tuple of them).
        n_elements: how many random elements to test (ignored if ``elements`` is given).
        elements: explicit elements to test, a batch of ``k`` elements.
        generator: randomness for sampling elements.
        dtype: the dtype ``f`` computes in; inferred from its parameters or from ``x``.

    Returns:
        An :class:`EquivarianceReport`; ``float(report)`` is the worst relative error.

    Raises:
        ValueError: if no tested element moves any input (the check would be vacuous), or if
            ``f`` returns NaN or infinite values.
    """
    dtype = dtype or _infer_dtype(f, x)
    x64 = _cast(x, torch.float64)
    b = _flat(x64).shape[0]
    if elements is None:
        if n_elements < 1:
            raise ValueError("n_elements must be at least 1")
        elements = group.sample(n_elements, generator=generator, dtype=torch.float64)
    elements = element_to(elements, torch.float64)
    k = _flat(elements).shape[0] if not isinstance(elements, tuple) else elements[0].shape[0]

    with torch.no_grad():
        fx = f(_cast(x64, dtype))
        fx64 = _cast(fx, torch.float64)
        fx_norm = _flat(fx64).norm(dim=1)
        if not torch.isfinite(_flat(fx64)).all():
            raise ValueError("f(x) has NaN or infinite values; the check needs finite outputs")
        x_flat = _flat(x64)
        x_norm = x_flat.norm(dim=1).clamp_min(1e-300)
        errors, moved = [], []
        for i in range(k):
            gi = _index(elements, i)
            g = repeat_element(gi, b)
            gx = act_in(g, x64)
            move = (_flat(gx) - x_flat).norm(dim=1) / x_norm
            lhs = _flat(_cast(f(_cast(gx, dtype)), torch.float64))
            rhs = _flat(act_out(g, fx64))
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
    return EquivarianceReport(float(errs.max()), errs, torch.stack(moved), dtype,
                              TOLERANCES.get(dtype, 1e-5))


def _index(g: Element, i: int) -> Element:
    if isinstance(g, tuple):
        return tuple(_index(p, i) for p in g)
    return g[i:i + 1]


def assert_equivariant(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    act_out: Action | Callable,
    x: Any,
    *,
    tol: float | None = None,
    n_elements: int = 5,
    elements: Element | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> EquivarianceReport:
    """Raise ``AssertionError`` unless ``f(g·x) = g·f(x)`` to relative tolerance ``tol``.

    ``tol`` defaults to :data:`TOLERANCES` for the dtype ``f`` computes in (1e-10 in float64,
    1e-5 in float32). Returns the report when the check passes.
    """
    rep = equivariance_error(f, group, act_in, act_out, x, n_elements=n_elements,
                             elements=elements, generator=generator, dtype=dtype)
    tol = rep.tolerance if tol is None else tol
    if not rep.error <= tol:
        worst = int(rep.errors.argmax())
        raise AssertionError(
            f"not equivariant under {group.name}: relative error {rep.error:.3g} > {tol:.1g} "
            f"(worst of {len(rep.errors)} elements: #{worst}, which moved inputs by "
            f"{float(rep.moved[worst]):.3g}; evaluated in {rep.dtype})")
    return rep


def assert_invariant(
    f: Callable[[Any], Any],
    group: Group,
    act_in: Action | Callable,
    x: Any,
    **kwargs: Any,
) -> EquivarianceReport:
    """Raise ``AssertionError`` unless ``f(g·x) = f(x)``; see :func:`assert_equivariant`."""
    return assert_equivariant(f, group, act_in, identity_action(), x, **kwargs)


def check_module(module: Any, x: Any, **kwargs: Any) -> EquivarianceReport:
    """Check a module against what it declares: attributes ``group``, ``in_action`` and
    ``out_action`` (``None`` or the identity action for invariant modules)."""
    missing = [a for a in ("group", "in_action", "out_action") if not hasattr(module, a)]
    if missing:
        raise TypeError(f"{type(module).__name__} does not declare {missing}; equivariant "
                        "modules set group, in_action and out_action")
    out = module.out_action or identity_action()
    return assert_equivariant(module, module.group, module.in_action, out, x, **kwargs)


__all__ = ["EquivarianceReport", "TOLERANCES", "assert_equivariant", "assert_invariant",
           "check_module", "equivariance_error", "run_on_ranks"]


def _rank_main(rank: int, fn: Callable[..., Any], args: tuple[Any, ...], world_size: int,
               init_file: str, out: str, backend: str) -> None:
    import traceback

    import torch.distributed as dist

    from .train.distributed import close_process_group

    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    failed = True
    try:
        torch.set_num_threads(1)
        result = fn(rank, world_size, *args)
        if rank == 0:
            torch.save(result, out)
        del result  # it may hold tensors or modules tied to the group
        failed = False
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)  # fn's frames may hold a wrapper
        raise
    finally:
        # wrappers first, then a barrier, then the group (the order is the point: see
        # close_process_group); strict, so a test that leaks a wrapper fails loudly
        close_process_group(barrier=not failed, strict=not failed)


def run_on_ranks(fn: Callable[..., Any], *args: Any, world_size: int = 2,
                 backend: str = "gloo") -> Any:  # noqa: ANN401 - whatever fn returns
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes that form a
    ``torch.distributed`` process group (one thread each); return rank 0's result.

    For testing distributed code (DistributedDataParallel, all-reduces) on one machine, e.g.
    that two processes give the gradient of one. ``fn`` must be a module-level function (it is
    pickled into the new processes); its result must be made of tensors, numbers, strings and
    lists, tuples or dicts of them (it travels through ``torch.save`` and comes back with
    ``weights_only=True``). Every DistributedDataParallel wrapper ``fn`` builds must be
    unreferenced when it returns: the group is destroyed only after they are gone, and a rank
    that still holds one fails (see :func:`quotient.train.distributed.close_process_group`).
    """
    import os
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rank0.pt")
        mp.spawn(_rank_main, args=(fn, args, world_size, os.path.join(tmp, "init"), out,
                                   backend), nprocs=world_size, join=True)
        return torch.load(out, weights_only=True)
