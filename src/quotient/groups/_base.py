"""Abstract groups whose elements are batched tensors.

Every concrete group fixes one tensor encoding of its elements (an angle, a matrix, an index
tensor, ...). All methods act on a *batch* of elements: the leading dimension is the batch.
Products use tuples of such tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import torch
from torch import Tensor

if TYPE_CHECKING:  # the module imports this one
    from .representations import Representation

Element = Union[Tensor, tuple["Element", ...]]  # noqa: UP007 (recursive alias)
"""A batch of group elements: a tensor whose first dimension is the batch, or a tuple of them."""

DEFAULT_DTYPE = torch.float64
"""The dtype of group elements unless one is given: float64, so exactness checks see design
errors rather than rounding."""
Device = torch.device | str | None
"""Where group elements live: a device, its name, or ``None`` (the default device)."""



def batch_size(g: Element) -> int:
    """Number of elements in the batch ``g``."""
    if isinstance(g, tuple):
        return batch_size(g[0])
    return int(g.shape[0])


def index_element(g: Element, idx: Tensor | slice | int) -> Element:
    """Select elements of a batch (``idx`` indexes the batch dimension)."""
    if isinstance(g, tuple):
        return tuple(index_element(p, idx) for p in g)
    if isinstance(idx, int):
        idx = slice(idx, idx + 1)
    return g[idx]


def cat_elements(gs: Sequence[Element]) -> Element:
    """Concatenate batches of elements."""
    if isinstance(gs[0], tuple):
        return tuple(cat_elements([g[i] for g in gs]) for i in range(len(gs[0])))
    return torch.cat(list(gs), dim=0)


def repeat_element(g: Element, n: int) -> Element:
    """Repeat a batch of one element ``n`` times (or each element n times, interleaved)."""
    if isinstance(g, tuple):
        return tuple(repeat_element(p, n) for p in g)
    return g.repeat_interleave(n, dim=0)


def element_to(g: Element, dtype: torch.dtype) -> Element:
    """Cast the floating-point parts of ``g`` to ``dtype`` (integer parts are kept)."""
    if isinstance(g, tuple):
        return tuple(element_to(p, dtype) for p in g)
    return g.to(dtype) if g.is_floating_point() else g


def _check_batch(batch: int) -> None:
    if not isinstance(batch, int) or batch < 0:
        raise ValueError(f"batch must be a non-negative int, got {batch!r}")


class Group(ABC):
    """A group acting through batched tensor elements.

    Subclasses define the encoding of elements and the named representations
    (``"standard"``, ``"trivial"``, and others such as ``"regular"`` or ``"permutation"``).
    """

    name: str = "group"
    is_finite: bool = False

    # -- element algebra -------------------------------------------------------------
    @abstractmethod
    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: torch.device | str | None = None) -> Element:
        """``batch`` copies of the identity element."""

    @abstractmethod
    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE,
               device: torch.device | str | None = None) -> Element:
        """``batch`` random elements (uniform / Haar where that exists)."""

    @abstractmethod
    def compose(self, g: Element, h: Element) -> Element:
        """The products ``g h`` elementwise over the batch (``h`` acts first)."""

    @abstractmethod
    def inverse(self, g: Element) -> Element:
        """The inverses ``g⁻¹``."""

    @abstractmethod
    def distance(self, g: Element, h: Element) -> Tensor:
        """A non-negative distance between elements, zero iff equal; shape ``(batch,)``."""

    # -- representations -------------------------------------------------------------
    @property
    @abstractmethod
    def representations(self) -> dict[str, int]:
        """Names of the available representations and their dimensions."""

    @abstractmethod
    def _representation(self, g: Element, kind: str) -> Tensor:
        """Matrices of representation ``kind``; called with a validated kind."""

    def representation(self, g: Element, kind: str = "standard") -> Tensor:
        """Matrices ``ρ(g)`` of the representation ``kind``, shape ``(batch, d, d)``."""
        if kind == "trivial":
            ref = g
            while isinstance(ref, tuple):
                ref = ref[0]
            dtype = ref.dtype if ref.is_floating_point() else DEFAULT_DTYPE
            return torch.ones(batch_size(g), 1, 1, dtype=dtype, device=ref.device)
        if kind not in self.representations:
            raise ValueError(
                f"{self.name} has no representation {kind!r}; "
                f"choose one of {sorted(self.representations) + ['trivial']}"
            )
        return self._representation(g, kind)

    def rep(self, kind: str = "standard") -> Representation:
        """The representation ``kind`` as a :class:`~quotient.groups.Representation` object."""
        from .representations import Representation

        return Representation.of(self, kind)

    def rep_dim(self, kind: str = "standard") -> int:
        """Dimension of representation ``kind``."""
        if kind == "trivial":
            return 1
        if kind not in self.representations:
            raise ValueError(f"{self.name} has no representation {kind!r}")
        return self.representations[kind]

    # -- structure for subspace solvers ------------------------------------------------
    def discrete_generators(self) -> Element:
        """Elements that, together with the identity component, generate the group.

        Finite groups return a generating set; connected Lie groups an empty batch.
        """
        return self.identity(0)

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        """Generators ``dρ(X_k)`` of the Lie algebra in representation ``kind``, ``(k, d, d)``.

        Finite groups have none (``k = 0``).
        """
        d = self.rep_dim(kind)
        return torch.zeros(0, d, d, dtype=DEFAULT_DTYPE)

    # -- words ------------------------------------------------------------------------
    def describe(self, g: Element) -> list[str]:
        """Each element of the batch ``g`` in words (for messages), e.g. ``"rotation by 90°"``.

        Subclasses say what their elements do; this default prints the encoding."""
        return [_numbers(index_element(g, i)) for i in range(batch_size(g))]

    def __repr__(self) -> str:
        return self.name


def _numbers(g: Element) -> str:
    if isinstance(g, tuple):
        return "(" + ", ".join(_numbers(p) for p in g) + ")"
    values = g.detach().reshape(-1).tolist()
    text = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values[:12])
    return text + (", ..." if len(values) > 12 else "")


def degrees(radians: float) -> str:
    """``"37.5°"``: an angle in radians as degrees, shortest exact-looking form."""
    import math

    d = math.degrees(radians)
    return f"{d:.0f}°" if abs(d - round(d)) < 1e-9 else f"{d:.4g}°"


class FiniteGroup(Group):
    """A finite group: elements can be enumerated and indexed."""

    is_finite = True

    @property
    @abstractmethod
    def order(self) -> int:
        """|G|."""

    @abstractmethod
    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: torch.device | str | None = None) -> Element:
        """All |G| elements as one batch, identity first."""

    @abstractmethod
    def generators(self) -> Element:
        """A generating set (a batch of elements)."""

    def discrete_generators(self) -> Element:
        return self.generators()

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE,
               device: torch.device | str | None = None) -> Element:
        _check_batch(batch)
        idx = torch.randint(self.order, (batch,), generator=generator)
        return self.element_at(idx, dtype=dtype, device=device)

    def element_at(self, idx: Tensor, *, dtype: torch.dtype = DEFAULT_DTYPE,
                   device: torch.device | str | None = None) -> Element:
        """Elements with the given indices in :meth:`elements` order."""
        return index_element(self.elements(dtype=dtype, device=device), idx.long())

    def index(self, g: Element) -> Tensor:
        """Index of each element of ``g`` in :meth:`elements` order, shape ``(batch,)``."""
        allg = self.elements()
        n, b = self.order, batch_size(g)
        d = self.distance(repeat_element(g, n), _tile(allg, b)).reshape(b, n)
        best = d.argmin(dim=1)
        if (d.gather(1, best[:, None]) > 1e-6).any():
            raise ValueError(f"some elements are not in {self.name}")
        return best

    def cayley_table(self) -> Tensor:
        """``T[i, j]`` = index of ``elements[i] · elements[j]``, shape ``(|G|, |G|)``."""
        allg = self.elements()
        n = self.order
        prod = self.compose(repeat_element(allg, n), _tile(allg, n))
        return self.index(prod).reshape(n, n)

    def regular_representation(self, g: Element) -> Tensor:
        """The left-regular representation: ``ρ(g) e_h = e_{gh}``, shape ``(batch, |G|, |G|)``."""
        n, b = self.order, batch_size(g)
        allg = self.elements()
        gh = self.compose(repeat_element(g, n), _tile(allg, b))
        rows = self.index(gh).reshape(b, n)
        ref = g
        while isinstance(ref, tuple):
            ref = ref[0]
        dtype = ref.dtype if ref.is_floating_point() else DEFAULT_DTYPE
        mat = torch.zeros(b, n, n, dtype=dtype)
        mat.scatter_(1, rows[:, None, :], 1.0)
        return mat


def _tile(g: Element, n: int) -> Element:
    """Tile a whole batch ``n`` times: ``[g_0..g_{b-1}, g_0..g_{b-1}, ...]``."""
    if isinstance(g, tuple):
        return tuple(_tile(p, n) for p in g)
    return g.repeat(n, *([1] * (g.dim() - 1)))
