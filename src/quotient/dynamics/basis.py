"""Solved equivariant bases and the explicit cache that stores them.

:class:`EquivariantBasis` holds an orthonormal basis ``Q`` (``(D, k)``, row-major ``vec(A)``) of
``H_G = Hom_G(V_in, V_out)``, so that ``Π_G = Q Qᵀ``. Orbit bases (from signed-permutation
representations) keep only the orbit labels and signs and project in ``O(D)``; the dense ``Q``
is built on first use.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..groups import Representation
from ._errors import SubspaceError


@dataclass
class EquivariantBasis:
    """An orthonormal basis of the equivariant maps ``Hom_G(V_in, V_out)``.

    Attributes:
        rep_in, rep_out: the representations; maps have shape ``(d_out, d_in)``.
        method: the route that produced it (``"orbit"``, ``"reynolds"``, ``"nullspace"``,
            ``"dense"``).
        dim: ``k = dim H_G``.
        residual: the largest constraint residual of the basis, relative to the generators' size.
        labels: orbit method only — ``(D,)`` column of each coordinate's orbit, −1 if the orbit
            carries no fixed vector.
        signs: orbit method only — ``(D,)`` the ±1 pattern of the fixed vector (0 off-support).
    """

    rep_in: Representation
    rep_out: Representation
    method: str
    dim: int
    residual: float
    labels: Tensor | None = None
    signs: Tensor | None = None
    _basis: Tensor | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)``."""
        return (self.rep_out.dim, self.rep_in.dim)

    @property
    def size(self) -> int:
        """``D = d_out · d_in``."""
        return self.rep_out.dim * self.rep_in.dim

    @property
    def orbit_sizes(self) -> Tensor:
        """Orbit method only: ``(k,)`` number of coordinates in each basis vector's support."""
        if self.labels is None:
            raise AttributeError("only orbit bases have orbit sizes")
        valid = self.labels >= 0
        return torch.bincount(self.labels[valid], minlength=self.dim).to(torch.float64)

    @property
    def basis(self) -> Tensor:
        """``Q``, ``(D, k)`` float64 with orthonormal columns (built on first use for orbits)."""
        if self._basis is None:
            assert self.labels is not None and self.signs is not None
            q = torch.zeros(self.size, self.dim, dtype=torch.float64)
            valid = torch.nonzero(self.labels >= 0).squeeze(1)
            norm = self.orbit_sizes.rsqrt()
            q[valid, self.labels[valid]] = self.signs[valid] * norm[self.labels[valid]]
            self._basis = q
        return self._basis

    def projector(self) -> Tensor:
        """``Π_G = Q Qᵀ``, ``(D, D)`` (dense; for small layers)."""
        q = self.basis
        return q @ q.T

    def project(self, a: Tensor) -> Tensor:
        """``Π_G A`` for ``a`` of shape ``(..., D)`` or ``(..., d_out, d_in)`` (same shape out)."""
        shape = a.shape
        if shape[-1] == self.size:
            flat = a.reshape(-1, self.size)
        elif tuple(shape[-2:]) == self.shape:
            flat = a.reshape(-1, self.size)
        else:
            raise SubspaceError(
                f"cannot project a tensor of shape {tuple(shape)}: expected (..., {self.size}) "
                f"or (..., {self.shape[0]}, {self.shape[1]})")
        if self.labels is not None and self.signs is not None:
            out = _orbit_project(flat.to(torch.float64), self.labels, self.signs,
                                 self.orbit_sizes)
        else:
            q = self.basis
            out = (flat.to(torch.float64) @ q) @ q.T
        return out.to(a.dtype).reshape(shape)


def _orbit_project(flat: Tensor, labels: Tensor, signs: Tensor, sizes: Tensor) -> Tensor:
    valid = torch.nonzero(labels >= 0).squeeze(1)
    lab = labels[valid]
    sums = flat.new_zeros(flat.shape[0], sizes.numel())
    sums.index_add_(1, lab, flat[:, valid] * signs[valid])
    out = torch.zeros_like(flat)
    out[:, valid] = (sums / sizes)[:, lab] * signs[valid]
    return out


class BasisCache:
    """An explicit in-memory cache of solved bases, keyed by the representations' generators.

    Pass one to :func:`solve_equivariant` (and to the layers) to reuse results; nothing is cached
    unless you do. The key fingerprints the generator matrices, so equal representations built
    from different objects share an entry.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._store: OrderedDict[str, EquivariantBasis] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: str) -> EquivariantBasis | None:
        """The cached basis for ``key`` (and mark it recently used), or ``None``."""
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            return self._store[key]
        self.misses += 1
        return None

    def put(self, key: str, value: EquivariantBasis) -> None:
        """Store ``value``; the least recently used entry goes when full."""
        self._store[key] = value
        self._store.move_to_end(key)
        while len(self._store) > self.max_entries:
            self._store.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        self._store.clear()


def fingerprint(rep: Representation) -> str:
    """A hash of a representation's group, dimension and generator matrices."""
    h = hashlib.sha1()
    h.update(f"{rep.group.name}|{rep.dim}".encode())
    for t in (rep.discrete_generators(), rep.lie_generators()):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.to(torch.float64).contiguous().numpy().tobytes())
    return h.hexdigest()
