"""How well a model respects a symmetry: invariance, pose equivariance, canonicalisation.

All functions take plain callables (``embed: x -> z``, ``pose: x -> element``,
``canonical: x -> x̂₀``) evaluated in batches without gradients, an action ``act(g, x)`` and
one group element per sample, so any model and any group can be measured the same way.

Relative errors are normalised by the *spread* of the codes over the data,
``σ = sqrt(mean_i ‖z_i − z̄‖²)`` (the root-mean-square distance to the mean code): a code with a
large constant offset cannot look invariant, and the figure reads as "distance moved by the
transformation, in units of the typical distance between codes of different inputs".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..groups import Element, index_element

__all__ = [
    "angle_error_deg",
    "apply_batched",
    "canonicalisation_error",
    "code_spread",
    "invariance_error",
    "pose_error",
    "resampling_floor",
    "shift_error",
]


def apply_batched(fn: Callable[[Tensor], Any], x: Tensor, batch_size: int = 500) -> Any:
    """``fn`` over ``x`` in chunks of ``batch_size`` under ``torch.no_grad()``; outputs (tensors
    or tuples of tensors) concatenated along the batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            outs.append(fn(x[i:i + batch_size]))
    if not outs:
        raise ValueError("apply_batched: got an empty batch")
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))
    return torch.cat(outs)


def _act_batched(act: Callable, g: Element, x: Tensor, batch_size: int) -> Tensor:
    parts = [act(index_element(g, slice(i, i + batch_size)), x[i:i + batch_size])
             for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts)


def code_spread(z: Tensor) -> float:
    """``sqrt(mean_i ‖z_i − z̄‖²)`` for codes ``z (N, d)``."""
    z = z.detach().flatten(1).double()
    return float((z - z.mean(0)).pow(2).sum(1).mean().sqrt())


def invariance_error(
    embed: Callable[[Tensor], Tensor],
    x: Tensor,
    act: Callable[[Element, Tensor], Tensor],
    g: Element,
    *,
    reduce: str = "mean",
    batch_size: int = 500,
) -> float:
    """Relative invariance error ``‖η(g_i·x_i) − η(x_i)‖ / σ``, reduced over samples.

    Args:
        embed: ``x -> z (N, d)``.
        x: inputs ``(N, …)``.
        act: the action on inputs.
        g: one element per sample (``N`` elements).
        reduce: ``"mean"``, ``"max"`` or ``"none"`` (returns the per-sample tensor instead).
        batch_size: evaluation chunk size.

    Returns:
        The reduced error as a float (or a tensor ``(N,)`` for ``reduce="none"``).
    """
    z = apply_batched(embed, x, batch_size).double().flatten(1)
    zg = apply_batched(embed, _act_batched(act, g, x, batch_size), batch_size).double().flatten(1)
    spread = code_spread(z)
    if spread == 0:
        raise ValueError("invariance_error: all codes are identical (spread 0); the relative "
                         "error is undefined — use more varied inputs")
    err = (zg - z).norm(dim=1) / spread
    return _reduce(err, reduce)


def resampling_floor(embed: Callable[[Tensor], Tensor], upright: Tensor,
                     act: Callable[[Tensor, Tensor], Tensor], a: Tensor, b: Tensor, *,
                     batch_size: int = 500) -> dict[str, float]:
    """What resampling alone changes: the same inputs rendered at two group elements.

    ``x_a = a·u``, ``x_b = b·u`` for source inputs ``u (N, …)`` (e.g. upright digits) and two
    elements per sample, each rendered once by the same (inexact) action ``act``, e.g. bilinear
    rotation. An exactly invariant function of the *underlying* image would give
    ``η(x_a) = η(x_b)``; a function of the pixels cannot, because the two renderings differ by
    interpolation. Returns:

    * ``code``: ``mean_i ‖η(x_a,i) − η(x_b,i)‖ / σ_z`` — the invariance error of the code on two
      renderings (σ_z the spread of ``η(x_a)``, as in :func:`invariance_error`);
    * ``pixels``: ``mean_i ‖a⁻¹·x_a,i − b⁻¹·x_b,i‖ / σ_x`` — how far apart the two renderings
      are as images once each is turned back (σ_x the spread of ``u``): the error of the
      "code" that is the pixels in canonical orientation, i.e. the floor that resampling puts
      under any code read from pixels.

    ``a, b`` are elements accepted by ``act`` with inverses given by negation (angles, shifts).
    """
    xa = _act_batched(act, a, upright, batch_size)
    xb = _act_batched(act, b, upright, batch_size)
    za = apply_batched(embed, xa, batch_size).double().flatten(1)
    zb = apply_batched(embed, xb, batch_size).double().flatten(1)
    back_a = _act_batched(act, -a, xa, batch_size).double().flatten(1)
    back_b = _act_batched(act, -b, xb, batch_size).double().flatten(1)
    return {"code": float((za - zb).norm(dim=1).mean()) / code_spread(za),
            "pixels": float((back_a - back_b).norm(dim=1).mean())
            / code_spread(upright.double().flatten(1))}


def _reduce(err: Tensor, reduce: str) -> Any:
    if reduce == "mean":
        return float(err.mean())
    if reduce == "max":
        return float(err.max())
    if reduce == "none":
        return err
    raise ValueError(f"reduce must be 'mean', 'max' or 'none', got {reduce!r}")


def angle_error_deg(a: Tensor, b: Tensor) -> Tensor:
    """``|a − b|`` wrapped to the circle, in degrees ``[0, 180]`` (angles in radians)."""
    d = torch.remainder(a.double() - b.double(), 2 * math.pi)
    return torch.minimum(d, 2 * math.pi - d) * (180.0 / math.pi)


def shift_error(a: Tensor, b: Tensor, length: int) -> Tensor:
    """``|a − b|`` on the cycle of ``length`` cells, in cells ``[0, length/2]``."""
    d = torch.remainder(a.double() - b.double(), length)
    return torch.minimum(d, length - d)


def pose_error(
    pose: Callable[[Tensor], Tensor],
    x: Tensor,
    act: Callable[[Element, Tensor], Tensor],
    g: Tensor,
    distance: Callable[[Tensor, Tensor], Tensor],
    *,
    coordinate: Tensor | None = None,
    reduce: str = "mean",
    batch_size: int = 500,
) -> Any:
    """Pose equivariance error ``d(ψ(g_i·x_i), c(g_i) + ψ(x_i))`` for circle groups.

    Args:
        pose: ``x -> (N,)``, one real coordinate per sample (an angle in radians, or a shift
            in cells).
        x: inputs ``(N, …)``.
        act: the action on inputs, called with ``g``.
        g: one element per sample, as ``act`` takes it.
        distance: :func:`angle_error_deg` or ``lambda a, b: shift_error(a, b, L)``.
        coordinate: ``c(g_i)``, the same coordinate as ``pose`` returns (e.g. ``k·π/2`` for
            ``k`` quarter turns); ``g`` itself when ``None``.
        reduce: ``"mean"``, ``"max"`` or ``"none"``.
        batch_size: evaluation chunk size.
    """
    c = g if coordinate is None else coordinate
    p = apply_batched(pose, x, batch_size)
    pg = apply_batched(pose, _act_batched(act, g, x, batch_size), batch_size)
    return _reduce(distance(pg, p.double() + c.double()), reduce)


def canonicalisation_error(
    canonical: Callable[[Tensor], Tensor],
    x: Tensor,
    act: Callable[[Element, Tensor], Tensor],
    g: Element,
    *,
    batch_size: int = 500,
) -> float:
    """Canonicalisation consistency ``mean ‖δ(η(g·x)) − δ(η(x))‖² / mean ‖δ(η(x)) − mean‖²``.

    0 when transformed inputs decode to the same canonical element; about 2 for unrelated ones.
    """
    c = apply_batched(canonical, x, batch_size).double().flatten(1)
    cg = apply_batched(canonical, _act_batched(act, g, x, batch_size), batch_size)
    cg = cg.double().flatten(1)
    var = (c - c.mean(0)).pow(2).sum(1).mean()
    if var == 0:
        raise ValueError("canonicalisation_error: all canonical outputs are identical")
    return float((cg - c).pow(2).sum(1).mean() / var)
