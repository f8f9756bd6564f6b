"""One layer's geometry: the admissible space L, the equivariant maps H_G, and E = L ∩ H_G.

* Π_E, the orthogonal projection onto ``E``; under compatibility ``Π_E = Π_L Π_G``.
* **Compatibility**: ``‖Π_L Π_G − Π_G Π_L‖₂``. For two orthogonal projections this equals
  ``max_i cos θ_i sin θ_i`` over the principal angles between ``L`` and ``H_G`` (the cosines are
  the singular values of ``Q_Lᵀ Q_G``); it vanishes iff ``Π_G(L) ⊆ L``.
* **ρ̄-invariance of L** (sufficient for compatibility, not necessary), reported separately:
  ``max_h ‖(I − Π_L) ρ̄(h) Π_L‖₂`` over discrete generators, and the same with ``dρ̄(X)`` (relative
  to ``‖dρ̄(X)‖``) over Lie generators.

When ``L`` is a coordinate subspace (a mask) and ``H_G`` comes from orbits, everything is exact
and ``O(D)``: ``E`` is spanned by the orbit vectors whose orbit lies inside the support, and the
cosine of orbit ``O`` is ``sqrt(|O ∩ S| / |O|)``. Otherwise dense SVDs are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..groups import hom
from ._errors import SelfCheckError, SubspaceError
from ._linalg import commutator_from_cosines, monomial_structure, orthonormalize
from .basis import EquivariantBasis, _orbit_project
from .spaces import AdmissibleSpace


@dataclass(frozen=True)
class CompatibilityReport:
    """Compatibility of ``L`` with the group action on one layer (or a whole network).

    Attributes:
        commutator: ``‖Π_L Π_G − Π_G Π_L‖₂``.
        compatible: ``commutator ≤ tol``.
        invariance_defect: ``max ‖(I − Π_L) ρ̄ Π_L‖₂`` over generators (0 iff ρ̄-invariant).
        invariant: ``invariance_defect ≤ tol``.
        dim_L, dim_G, dim_E: dimensions of ``L``, ``H_G``, ``E``.
        tol: the tolerance of both verdicts.
    """

    commutator: float
    compatible: bool
    invariance_defect: float
    invariant: bool
    dim_L: int
    dim_G: int
    dim_E: int
    tol: float


class LayerGeometry:
    """``L``, ``H_G`` and ``E = L ∩ H_G`` for one layer whose flat weights have size ``D``.

    Args:
        space: the admissible space ``L``.
        equivariant: the basis of ``H_G`` from :func:`~quotient.dynamics.solve_equivariant`.
        tol: tolerance for identifying ``E`` (cosine ``≥ 1 − tol``) and for the self-check.

    Raises:
        SubspaceError: the space and the representations disagree on ``D``.
    """

    def __init__(self, space: AdmissibleSpace, equivariant: EquivariantBasis, *,
                 tol: float = 1e-9) -> None:
        if space.size != equivariant.size:
            raise SubspaceError(
                f"the admissible space has {space.size} weights {space.shape} but the "
                f"representations give maps of size {equivariant.shape[0]}x{equivariant.shape[1]}"
                f" = {equivariant.size}; match d_out·d_in to the weight shape")
        self.space = space
        self.equivariant = equivariant
        self.tol = tol
        self._coef_basis_E: Tensor | None = None
        support = space.support()
        if support is not None and equivariant.labels is not None:
            self._structured_E(support)
        else:
            self._dense_E()

    # -- construction ------------------------------------------------------------------
    def _structured_E(self, support: Tensor) -> None:
        eq = self.equivariant
        assert eq.labels is not None and eq.signs is not None
        valid = eq.labels >= 0
        inside_count = torch.bincount(eq.labels[valid & support], minlength=eq.dim)
        sizes = eq.orbit_sizes
        inside = inside_count.to(torch.float64) == sizes
        renumber = torch.full((max(eq.dim, 1),), -1, dtype=torch.long)
        renumber[torch.nonzero(inside).squeeze(1)] = torch.arange(int(inside.sum()))
        lab = torch.where(valid, renumber[eq.labels.clamp_min(0)], torch.full_like(eq.labels, -1))
        self.sines = None
        self.labels_E = lab
        self.signs_E = torch.where(lab >= 0, eq.signs, torch.zeros_like(eq.signs))
        self.sizes_E = sizes[inside]
        self.dim_E = int(inside.sum())
        self._basis_E: Tensor | None = None
        self.cosines = torch.sqrt(inside_count.to(torch.float64) / sizes) if eq.dim else \
            sizes.new_zeros(0)

    def _dense_E(self) -> None:
        self.labels_E = None
        ql = self.space.orthonormal_basis()
        qg = self.equivariant.basis
        m = ql.T @ qg
        self.cosines = torch.linalg.svdvals(m) if min(m.shape) else m.new_zeros(0)
        self.sines: Tensor | None = None
        if ql.shape[1] == 0 or qg.shape[1] == 0:
            self._basis_E = ql.new_zeros(ql.shape[0], 0)
        else:
            # E = L ∩ H_G: coefficients v with (I − Π_G) Q_L v = 0. The singular values of
            # (I − Π_G) Q_L are the sines of the principal angles, which resolve small angles
            # to rounding (cosines near 1 would only resolve them to √eps).
            w = ql - self.equivariant.project(ql.T).T
            _, s, vh = torch.linalg.svd(w, full_matrices=True)
            s_full = torch.cat([s, s.new_zeros(vh.shape[0] - s.numel())])
            self.sines = s_full.flip(0)  # ascending, paired with the descending cosines
            q = ql @ vh[s_full <= self.tol].T
            self._basis_E = orthonormalize(self.equivariant.project(q.T).T, 1e-6) \
                if q.shape[1] else q
        self.dim_E = self._basis_E.shape[1]
        q = self._basis_E
        if q.shape[1]:
            err = max(float((self.space.project(q.T) - q.T).abs().max()),
                      float((self.equivariant.project(q.T) - q.T).abs().max()))
            if err > 1e-8:
                raise SelfCheckError(f"E = L ∩ H_G basis is off by {err:.2e}")

    # -- projections ---------------------------------------------------------------------
    @property
    def size(self) -> int:
        """``D``."""
        return self.space.size

    @property
    def basis_E(self) -> Tensor:
        """An orthonormal basis of ``E``, ``(D, dim E)`` float64."""
        if self._basis_E is None:
            assert self.labels_E is not None
            q = torch.zeros(self.size, self.dim_E, dtype=torch.float64)
            valid = torch.nonzero(self.labels_E >= 0).squeeze(1)
            lab = self.labels_E[valid]
            q[valid, lab] = self.signs_E[valid] * self.sizes_E[lab].rsqrt()
            self._basis_E = q
        return self._basis_E

    def project_E(self, a: Tensor) -> Tensor:
        """``Π_E a`` for flat weights ``(..., D)`` (any float dtype; computed in float64)."""
        flat = self.space._flat(a)
        x = flat.reshape(-1, self.size).to(torch.float64)
        if self.labels_E is not None:
            out = _orbit_project(x, self.labels_E, self.signs_E, self.sizes_E)
        else:
            q = self.basis_E
            out = (x @ q) @ q.T
        return out.to(a.dtype).reshape(flat.shape)

    def project_L(self, a: Tensor) -> Tensor:
        """``Π_L a``."""
        return self.space.project(a)

    def project_G(self, a: Tensor) -> Tensor:
        """``Π_G a``."""
        return self.equivariant.project(self.space._flat(a))

    def distance_to_E(self, a: Tensor) -> Tensor:
        """``‖a − Π_E a‖`` (Frobenius) for flat weights ``(..., D)``."""
        flat = self.space._flat(a)
        return (flat - self.project_E(flat)).norm(dim=-1)

    def project_coef_E(self, coef_grad: Tensor) -> Tensor:
        """The EQUI direction in coefficient space: the orthogonal projection of a coefficient
        vector ``(..., m)`` onto ``C_E = {c : B c ∈ E}``.

        For an orthonormal basis this is ``Bᵀ Π_E B``, so the weights move by ``−Π_E ∇R``.
        """
        if self.space.orthonormal:
            return self.space.coefficients(self.project_E(self.space.synthesize(coef_grad)))
        if self._coef_basis_E is None:
            x = self.space.coefficients(self.basis_E.T).T  # (m, dim E)
            self._coef_basis_E = orthonormalize(x, 1e-9) if x.shape[1] else x
        u = self._coef_basis_E.to(dtype=coef_grad.dtype, device=coef_grad.device)
        return (coef_grad @ u) @ u.T

    # -- compatibility -------------------------------------------------------------------
    def commutator(self) -> float:
        """``‖Π_L Π_G − Π_G Π_L‖₂ = max_i cos θ_i sin θ_i`` over the principal angles."""
        if self.sines is None:
            return commutator_from_cosines(self.cosines)
        m = self.sines.numel()
        cos = torch.cat([self.cosines, self.cosines.new_zeros(max(0, m - self.cosines.numel()))])
        return float((cos[:m] * self.sines).max()) if m else 0.0

    def invariance_defect(self) -> float:
        """``max ‖(I − Π_L) ρ̄ Π_L‖₂`` over discrete generators and (relative) Lie generators."""
        rep_in, rep_out = self.equivariant.rep_in, self.equivariant.rep_out
        gi, go = rep_in.discrete_generators(), rep_out.discrete_generators()
        support = self.space.support()
        si, so = monomial_structure(gi), monomial_structure(go)
        lie = hom(rep_in, rep_out).lie_generators() if self.size <= 4096 else None
        lie_free = not bool((rep_in.lie_generators() != 0).any()) and not bool(
            (rep_out.lie_generators() != 0).any())
        if support is not None and si is not None and so is not None and lie_free:
            di = gi.shape[-1]
            perm = (so[0][:, :, None] * di + si[0][:, None, :]).reshape(gi.shape[0], -1)
            moved_out = support[None, :] & ~support[perm]
            return 1.0 if bool(moved_out.any()) else 0.0
        ql = self.space.orthonormal_basis()
        a = ql.T.reshape(-1, go.shape[-1], gi.shape[-1])
        worst = 0.0
        for j in range(gi.shape[0]):
            y = (go[j] @ a @ gi[j].T).reshape(a.shape[0], -1)
            z = y - self.space.project(y)
            worst = max(worst, float(torch.linalg.matrix_norm(z, ord=2)))
        if not lie_free:
            if lie is None:
                raise SubspaceError("Lie invariance check needs D <= 4096")
            for x in lie:
                y = (x @ ql).T
                z = y - self.space.project(y)
                scale = float(torch.linalg.matrix_norm(x, ord=2)) or 1.0
                worst = max(worst, float(torch.linalg.matrix_norm(z, ord=2)) / scale)
        return worst

    def compatibility(self, tol: float = 1e-10) -> CompatibilityReport:
        """The commutator and the invariance defect with their verdicts."""
        c = self.commutator()
        inv = self.invariance_defect()
        return CompatibilityReport(c, c <= tol, inv, inv <= tol, self.space.n_coef,
                                   self.equivariant.dim, self.dim_E, tol)
