"""The :class:`Action` wrapper: a named function ``act(g, x)`` labelled exact or approximate."""

from __future__ import annotations

import re
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

    def accepts(self, group: Any) -> bool:
        """Whether ``group``'s elements are what this action takes: its name matches one of
        :attr:`groups` (``"Sn"`` stands for any ``S5``, ``S7``, ...; ``"Cn"``, ``"Dn"``,
        ``"Zn"`` likewise; ``"T"`` for any ``T(d)``; ``"Z2d"`` for any ``Z4xZ5``; ``"any"``
        for every group). A mismatch means the elements would be misread — e.g. the angles of
        SO(2) cast to quarter turns by :data:`rot90_image`."""
        name = _normalise(getattr(group, "name", ""))
        return any(p == "any" or re.fullmatch(_pattern(p), name) for p in self.groups)

    def check_group(self, group: Any) -> None:
        """Raise ``ValueError`` naming the action, the group and the fix unless
        :meth:`accepts`."""
        if not self.accepts(group):
            raise ValueError(
                f"{self.name} acts on {', '.join(self.groups)} but the group is "
                f"{getattr(group, 'name', group)}: its elements would be misread; pass the "
                "action of that group (or the group this action is written for)")

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


def _normalise(name: str) -> str:
    return name.replace("(", "").replace(")", "").replace(" ", "").replace("×", "x")


_TOKENS = {"Z2d": r"Z\d+xZ\d+", "Sn": r"S\d+", "Cn": r"C\d+", "Dn": r"D\d+", "Zn": r"Z\d+"}


def _pattern(pattern: str) -> str:
    """A regular expression for a normalised group-name pattern (see :meth:`Action.accepts`)."""
    out = re.escape(_normalise(pattern))
    for token, regex in _TOKENS.items():
        out = out.replace(re.escape(token), regex)
    return r"T\d+" if out == "T" else out


identity_action = Action("identity", lambda g, x: x, exact=True, groups=("any",),
                         note="g·x = x, for invariant outputs")
"""The trivial action ``g·x = x``: pass it as is (it is an :class:`Action`, not a factory)."""
