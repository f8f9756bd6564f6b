"""The :class:`Action` wrapper: a named function ``act(g, x)`` labelled exact or approximate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ..groups import Element, batch_size


@dataclass(frozen=True)
class Action:
    """A group action on one kind of data, ``act(g, x)`` with batched ``g`` and ``x``.

    Attributes:
        name: what it does, e.g. ``"rotate_image"``.
        exact: ``True`` if it is an exact group action (a homomorphism to the bit), ``False`` if
            it is only approximately one (e.g. pixel-grid resampling).
        groups: the group names it is meant for (documentation and error messages).
        note: how it is computed (interpolation, masking, ...).
    """

    name: str
    fn: Callable[[Any, Any], Any]
    exact: bool
    groups: tuple[str, ...]
    note: str = ""

    def __call__(self, g: Element, x: Any) -> Any:
        return self.fn(g, x)

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "approximate"
        return f"Action({self.name}, {kind}, groups={self.groups})"


def check_batch(g: Element, x: Tensor, what: str) -> None:
    """Raise a clear error when the number of elements and of samples disagree."""
    if batch_size(g) != x.shape[0]:
        raise ValueError(
            f"{what}: got {batch_size(g)} group elements for a batch of {x.shape[0]} samples; "
            "pass one element per sample (repeat_element / expand the batch)")


def check_ndim(x: Tensor, ndim: int, shape_doc: str, what: str) -> None:
    if not hasattr(x, "dim"):
        raise TypeError(f"{what}: expected a tensor of shape {shape_doc}, got {type(x).__name__}")
    if x.dim() != ndim:
        raise ValueError(f"{what}: expected shape {shape_doc}, got {tuple(x.shape)}")


def identity_action() -> Action:
    """The trivial action ``g·x = x`` (for invariant outputs)."""
    return Action("identity", lambda g, x: x, exact=True, groups=("any",))
