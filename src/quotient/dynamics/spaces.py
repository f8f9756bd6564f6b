"""Admissible spaces ``L ⊆ H``: the layers a network may have, as ``A = B c``.

A space fixes the weight shape, a basis ``B`` (``D × m``, full column rank; orthonormal or not)
and gives ``synthesize(c) = B c``, ``coefficients(A) = B⁺ A`` and the orthogonal projection Π_L.

* :class:`MaskSpace` — coordinates on a support mask (e.g. a 3×3 filter support Ω); orthonormal.
* :class:`KernelBasisSpace` — every filter of a convolution is ``Σ_j c_{o,i,j} b_j`` for one
  kernel basis ``b_j`` shared by all channel pairs; orthonormal iff the ``b_j`` are.
* :class:`BasisSpace` — any dense basis; :func:`function_space` builds one from a user's linear
  function of the coefficients.

All computations are float64; ``synthesize`` keeps the coefficients' dtype and autograd graph.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ._errors import SubspaceError
from ._linalg import check_finite

CROSS = ((0, 1), (1, 0), (1, 1), (1, 2), (2, 1))
"""A plus-shaped 3×3 support, invariant under rot90 (compatible with C4)."""
SKEW = ((0, 0), (0, 1), (1, 0), (1, 2), (2, 1))
"""A 3×3 support that is not a union of C4 orbits (incompatible with C4)."""


def support_mask(positions: Iterable[Sequence[int]], size: int = 3) -> Tensor:
    """A ``size × size`` boolean mask that is true at the given ``(row, column)`` positions."""
    mask = torch.zeros(size, size, dtype=torch.bool)
    for pos in positions:
        r, c = (int(v) for v in pos)
        if not (0 <= r < size and 0 <= c < size):
            raise SubspaceError(f"position {(r, c)} lies outside a {size}x{size} kernel")
        mask[r, c] = True
    return mask


class AdmissibleSpace(ABC):
    """A linear space of weights ``L = range(B)`` of a given shape (see the module docstring)."""

    shape: tuple[int, ...]
    n_coef: int
    orthonormal: bool

    @property
    def size(self) -> int:
        """``D``, the number of weight entries."""
        return math.prod(self.shape)

    @abstractmethod
    def synthesize(self, coef: Tensor) -> Tensor:
        """``B c`` for ``coef`` ``(..., m)`` -> flat weights ``(..., D)``."""

    @abstractmethod
    def coefficients(self, a: Tensor) -> Tensor:
        """Least-squares coefficients ``B⁺ a`` for flat weights ``(..., D)`` -> ``(..., m)``."""

    @abstractmethod
    def project(self, a: Tensor) -> Tensor:
        """Orthogonal projection ``Π_L a`` of flat weights ``(..., D)``."""

    @abstractmethod
    def orthonormal_basis(self) -> Tensor:
        """An orthonormal basis ``Q_L`` of ``L``, ``(D, m)`` float64 (dense)."""

    @abstractmethod
    def to_orthonormal(self, a: Tensor) -> Tensor:
        """``Q_Lᵀ a``: coordinates ``(..., m)`` of flat weights in the orthonormal basis."""

    @abstractmethod
    def from_orthonormal(self, u: Tensor) -> Tensor:
        """``Q_L u``: flat weights ``(..., D)`` from orthonormal coordinates ``(..., m)``."""

    def support(self) -> Tensor | None:
        """If ``L`` is a coordinate subspace, its indicator ``(D,)`` bool; else ``None``."""
        return None

    def _flat(self, a: Tensor) -> Tensor:
        if a.shape[-1] == self.size:
            return a
        if tuple(a.shape[-len(self.shape):]) == self.shape:
            return a.reshape(*a.shape[:-len(self.shape)], self.size)
        raise SubspaceError(f"weights of shape {tuple(a.shape)} do not fit this space: expected "
                            f"(..., {self.size}) or (...,) + {self.shape}")


class MaskSpace(AdmissibleSpace):
    """Weights supported on a mask; the coefficients are the entries on the support.

    Args:
        shape: weight shape, e.g. ``(c_out, c_in, 3, 3)``.
        mask: boolean (or 0/1) tensor broadcastable to ``shape`` from the right — a ``(3, 3)``
            filter support applies to every channel pair; ``None`` means the whole space.
    """

    orthonormal = True

    def __init__(self, shape: Sequence[int], mask: Tensor | None = None) -> None:
        self.shape = tuple(int(s) for s in shape)
        if mask is None:
            full = torch.ones(self.shape, dtype=torch.bool)
        else:
            mask = torch.as_tensor(mask)
            check_finite(mask.to(torch.float64), "mask")
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise SubspaceError("a support mask must hold only 0/1 or booleans")
            if mask.dim() > len(self.shape) or tuple(mask.shape) != self.shape[
                    len(self.shape) - mask.dim():]:
                raise SubspaceError(
                    f"mask of shape {tuple(mask.shape)} does not match the weight shape "
                    f"{self.shape}: give the full shape or its trailing dimensions "
                    f"(e.g. {self.shape[-2:]} for a filter support)")
            full = mask.to(torch.bool).expand(self.shape)
        self.mask = full.reshape(-1).clone()
        self.index = torch.nonzero(self.mask).squeeze(1)
        self.n_coef = int(self.index.numel())
        if self.n_coef == 0:
            raise SubspaceError("the support mask is empty; the space would be {0}")

    def synthesize(self, coef: Tensor) -> Tensor:
        out = coef.new_zeros(*coef.shape[:-1], self.size)
        return out.index_copy(-1, self.index.to(coef.device), coef)

    def coefficients(self, a: Tensor) -> Tensor:
        return self._flat(a)[..., self.index.to(a.device)]

    def project(self, a: Tensor) -> Tensor:
        return self._flat(a) * self.mask.to(device=a.device, dtype=a.dtype)

    def orthonormal_basis(self) -> Tensor:
        q = torch.zeros(self.size, self.n_coef, dtype=torch.float64)
        q[self.index, torch.arange(self.n_coef)] = 1.0
        return q

    def to_orthonormal(self, a: Tensor) -> Tensor:
        return self.coefficients(a)

    def from_orthonormal(self, u: Tensor) -> Tensor:
        return self.synthesize(u)

    def support(self) -> Tensor:
        return self.mask


class KernelBasisSpace(AdmissibleSpace):
    """Filters ``W[o, i] = Σ_j c[o, i, j] b_j`` from one kernel basis shared by all channels.

    Args:
        shape: ``(c_out, c_in, kh, kw)`` (any leading dimensions; the last ``kernel_ndim`` are
            the kernel).
        kernel_basis: ``(m_K, kh, kw)`` or ``(m_K, kh·kw)`` basis vectors ``b_j``, linearly
            independent; orthonormal or not.
        kernel_ndim: number of kernel dimensions (2 for ``Conv2d``, 1 for ``Conv1d``).
    """

    def __init__(self, shape: Sequence[int], kernel_basis: Tensor, *,
                 kernel_ndim: int = 2) -> None:
        self.shape = tuple(int(s) for s in shape)
        if not 1 <= kernel_ndim < len(self.shape):
            raise SubspaceError(f"kernel_ndim={kernel_ndim} does not fit weights of shape "
                                f"{self.shape}")
        kshape = self.shape[-kernel_ndim:]
        t = math.prod(kshape)
        b = torch.as_tensor(kernel_basis, dtype=torch.float64)
        b = b.reshape(b.shape[0], -1) if b.dim() >= 2 else b
        if b.dim() != 2 or b.shape[1] != t:
            raise SubspaceError(f"kernel basis of shape {tuple(kernel_basis.shape)} does not fit "
                                f"{kshape} kernels: pass (m, {', '.join(map(str, kshape))})")
        check_finite(b, "kernel basis")
        s = torch.linalg.svdvals(b)
        if s.numel() == 0 or float(s[-1]) <= 1e-10 * float(s[0]):
            raise SubspaceError("the kernel basis vectors are linearly dependent (or zero)")
        self.kernel_basis = b.T.contiguous()  # (t, m_K): columns are the b_j
        self.filters = math.prod(self.shape[:-kernel_ndim])
        self.m_k = b.shape[0]
        self.n_coef = self.filters * self.m_k
        self.pinv = torch.linalg.pinv(self.kernel_basis)  # (m_K, t)
        self.q_kernel = torch.linalg.qr(self.kernel_basis)[0].contiguous()
        gram = self.kernel_basis.T @ self.kernel_basis
        self.orthonormal = bool((gram - torch.eye(self.m_k, dtype=torch.float64)).abs().max()
                                < 1e-12)

    def synthesize(self, coef: Tensor) -> Tensor:
        c = coef.reshape(*coef.shape[:-1], self.filters, self.m_k)
        w = c @ self.kernel_basis.T.to(dtype=coef.dtype, device=coef.device)
        return w.reshape(*coef.shape[:-1], self.size)

    def coefficients(self, a: Tensor) -> Tensor:
        a = self._flat(a)
        w = a.reshape(*a.shape[:-1], self.filters, -1)
        c = w @ self.pinv.T.to(dtype=a.dtype, device=a.device)
        return c.reshape(*a.shape[:-1], self.n_coef)

    def project(self, a: Tensor) -> Tensor:
        a = self._flat(a)
        w = a.reshape(*a.shape[:-1], self.filters, -1)
        q = self.q_kernel.to(dtype=a.dtype, device=a.device)
        return ((w @ q) @ q.T).reshape(a.shape)

    def orthonormal_basis(self) -> Tensor:
        return torch.kron(torch.eye(self.filters, dtype=torch.float64), self.q_kernel)

    def to_orthonormal(self, a: Tensor) -> Tensor:
        a = self._flat(a)
        w = a.reshape(*a.shape[:-1], self.filters, -1)
        u = w @ self.q_kernel.to(dtype=a.dtype, device=a.device)
        return u.reshape(*a.shape[:-1], self.n_coef)

    def from_orthonormal(self, u: Tensor) -> Tensor:
        c = u.reshape(*u.shape[:-1], self.filters, self.m_k)
        w = c @ self.q_kernel.T.to(dtype=u.dtype, device=u.device)
        return w.reshape(*u.shape[:-1], self.size)

    def support(self) -> Tensor | None:
        p = self.q_kernel @ self.q_kernel.T
        diag = p.diagonal()
        coordinate = bool((p - torch.diag(diag)).abs().max() < 1e-12) and bool(
            ((diag.abs() < 1e-12) | ((diag - 1).abs() < 1e-12)).all())
        if not coordinate:
            return None
        return (diag > 0.5).repeat(self.filters)


class BasisSpace(AdmissibleSpace):
    """``L = range(B)`` for a dense basis ``B`` ``(D, m)`` of full column rank."""

    def __init__(self, shape: Sequence[int], basis: Tensor) -> None:
        self.shape = tuple(int(s) for s in shape)
        b = torch.as_tensor(basis, dtype=torch.float64)
        if b.dim() != 2 or b.shape[0] != self.size:
            raise SubspaceError(f"basis of shape {tuple(b.shape)} does not fit weights of shape "
                                f"{self.shape}: expected ({self.size}, m)")
        check_finite(b, "basis")
        s = torch.linalg.svdvals(b)
        if s.numel() == 0 or float(s[-1]) <= 1e-10 * float(s[0]):
            raise SubspaceError("the basis columns are linearly dependent (or there are none)")
        self.basis = b
        self.n_coef = b.shape[1]
        self.pinv = torch.linalg.pinv(b)
        self.q = torch.linalg.qr(b)[0].contiguous()
        self.orthonormal = bool((b.T @ b - torch.eye(self.n_coef, dtype=torch.float64))
                                .abs().max() < 1e-12)

    def synthesize(self, coef: Tensor) -> Tensor:
        return coef @ self.basis.T.to(dtype=coef.dtype, device=coef.device)

    def coefficients(self, a: Tensor) -> Tensor:
        return self._flat(a) @ self.pinv.T.to(dtype=a.dtype, device=a.device)

    def project(self, a: Tensor) -> Tensor:
        q = self.q.to(dtype=a.dtype, device=a.device)
        return (self._flat(a) @ q) @ q.T

    def orthonormal_basis(self) -> Tensor:
        return self.q

    def to_orthonormal(self, a: Tensor) -> Tensor:
        return self._flat(a) @ self.q.to(dtype=a.dtype, device=a.device)

    def from_orthonormal(self, u: Tensor) -> Tensor:
        return u @ self.q.T.to(dtype=u.dtype, device=u.device)


def function_space(shape: Sequence[int], fn: Callable[[Tensor], Tensor], n_coef: int, *,
                   generator: torch.Generator | None = None) -> BasisSpace:
    """The space ``{fn(c)}`` for a user's *linear* map ``fn: ℝ^m → weights of shape``.

    The basis is ``fn`` applied to the unit vectors; linearity is checked on a random
    combination.

    Raises:
        SubspaceError: ``fn`` returns the wrong shape, non-finite values, or is not linear.
    """
    shape = tuple(int(s) for s in shape)
    eye = torch.eye(n_coef, dtype=torch.float64)
    cols = []
    for j in range(n_coef):
        w = torch.as_tensor(fn(eye[j]), dtype=torch.float64)
        if tuple(w.shape) != shape:
            raise SubspaceError(f"the space function returned shape {tuple(w.shape)}, expected "
                                f"{shape}")
        cols.append(w.reshape(-1))
    basis = torch.stack(cols, dim=1)
    c = torch.randn(n_coef, dtype=torch.float64, generator=generator)
    direct = torch.as_tensor(fn(c), dtype=torch.float64).reshape(-1)
    if not torch.allclose(direct, basis @ c, rtol=1e-9, atol=1e-9 * float(basis.abs().max())):
        raise SubspaceError("the space function is not linear in its coefficients")
    return BasisSpace(shape, basis)


def non_orthonormal_kernel_basis(positions: Iterable[Sequence[int]], size: int = 3, *,
                                 mixing: Tensor | None = None,
                                 generator: torch.Generator | None = None) -> Tensor:
    """A non-orthonormal basis ``(m, size, size)`` of the kernels supported on ``positions``.

    ``b_j = Σ_i M_{ji} e_{p_i}`` for a mixing matrix ``M``: by default ``I + N`` with ``N``
    uniform in ``[0, 1)`` (well conditioned, far from orthogonal); span equals the support.
    """
    pos = [tuple(int(v) for v in p) for p in positions]
    support_mask(pos, size)  # validates the positions
    m = len(pos)
    if mixing is None:
        mixing = torch.eye(m, dtype=torch.float64) + torch.rand(m, m, generator=generator,
                                                                dtype=torch.float64)
    if tuple(mixing.shape) != (m, m):
        raise SubspaceError(f"mixing must be ({m}, {m}) for {m} positions")
    units = torch.zeros(m, size, size, dtype=torch.float64)
    for i, (r, c) in enumerate(pos):
        units[i, r, c] = 1.0
    return torch.einsum("ji,ihw->jhw", mixing.to(torch.float64), units)
