"""Stability at an equivariant stationary point: the worked ℤ₂ example, Hessian-vector products
against finite differences, Lanczos against dense blocks."""

from __future__ import annotations

import pytest
import torch

from quotient.dynamics import (
    LocalModel,
    SubspaceError,
    hessian_blocks,
    perturbation_growth,
    population_risk,
    regulariser,
    z2_example,
)
from quotient.dynamics.stability import newton_in_E

PERP = [torch.tensor([1.0, -1.0], dtype=torch.float64)]


def test_z2_population_blocks_are_plus_and_minus_16():
    ex = z2_example()
    a = ex.model.weight().detach()
    assert float(population_risk(a)) == pytest.approx(12 / 9 - 8 / 3 + 12, abs=1e-12)
    rep = hessian_blocks(ex.model, ex.risk)
    assert rep.gradient_E <= 1e-12 and rep.gradient_perp <= 1e-12  # stationary
    assert rep.e_min == pytest.approx(16.0, abs=1e-10)
    assert rep.perp_min == pytest.approx(-16.0, abs=1e-10)
    assert rep.off_block <= 1e-12
    assert rep.stable_equi and not rep.stable_aug
    lanczos = hessian_blocks(ex.model, ex.risk, method="lanczos")
    assert lanczos.e_min == pytest.approx(16.0, abs=1e-10)
    assert lanczos.perp_min == pytest.approx(-16.0, abs=1e-10)


def test_z2_perturbation_grows_at_the_eigenvalue_and_gamma_removes_it():
    ex = z2_example()
    lr = 1e-3
    growth = perturbation_growth(ex.model, ex.risk, PERP, lr=lr, steps=1500, eps=1e-8)
    assert growth.rate == pytest.approx(16.0, rel=0.10)
    assert growth.eigenvalue == pytest.approx(16.0, rel=0.01)
    a = ex.model.weight().detach()  # AUG ends at the non-equivariant minimum ±(1, −1)
    assert torch.allclose(a.abs(), torch.ones(2, dtype=torch.float64), atol=0.02)
    assert float(a[0] * a[1]) < 0
    # EQUI from the stationary point stays put: its E-projected gradient vanishes there
    equi = z2_example()
    layer = equi.model.linear
    for _ in range(400):
        g = torch.autograd.grad(equi.risk(), layer.coef)[0]
        with torch.no_grad():
            layer.coef.sub_(lr * layer.geometry.project_coef_E(g))
    assert layer.distance_to_E() == 0.0
    assert torch.allclose(equi.model.weight().detach(), torch.full((2,), 3 ** -0.5,
                                                                    dtype=torch.float64))
    held = z2_example()
    growth = perturbation_growth(held.model, held.risk, PERP, lr=lr, steps=400, gamma=20.0,
                                 fit_below=1.0)
    assert growth.rate == pytest.approx(-4.0, rel=0.10)  # −16 + γ
    assert growth.distances[-1] < growth.distances[0]
    reg = z2_example()
    rep = hessian_blocks(reg.model, lambda: reg.risk() + 20.0 * regulariser([reg.model.linear]))
    assert rep.stable_aug and rep.perp_min == pytest.approx(4.0, abs=1e-10)


def test_z2_finite_sample_blocks_after_newton_in_E():
    ex = z2_example()
    objective = ex.sample_objective(20_000, torch.Generator().manual_seed(0))

    def risk():
        return objective.risk("exact")

    assert newton_in_E(ex.model, risk) <= 1e-10
    assert ex.model.linear.distance_to_E() <= 1e-14
    rep = hessian_blocks(ex.model, risk)
    assert rep.e_min == pytest.approx(16.0, rel=0.08)
    assert rep.perp_min == pytest.approx(-16.0, rel=0.08)
    assert rep.stable_equi and not rep.stable_aug
    # exact AUG from this point of E plus a round-off-sized E⊥ perturbation: it grows until the
    # weights reach the non-equivariant minimum (rounding alone may or may not seed it)
    objective.batch_size = None
    layer = ex.model.linear
    with torch.no_grad():
        layer.coef.add_(1e-14 * PERP[0])
    for _ in range(150):
        g = torch.autograd.grad(risk(), layer.coef)[0]
        with torch.no_grad():
            layer.coef.sub_(0.02 * g)
    assert layer.distance_to_E() > 1e-3


def test_hvp_matches_finite_differences(make_cnn_problem):
    objective = make_cnn_problem("cross", n=4)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # move off E so that every block is exercised
        for p in objective.model.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    local = LocalModel(objective.model, lambda: objective.risk("exact"))
    v = torch.randn(local.dim, dtype=torch.float64, generator=gen)
    hv = local.hvp(v)
    eps = 1e-5
    fd = (local.gradient(eps * v) - local.gradient(-eps * v)) / (2 * eps)
    assert float((hv - fd).norm() / hv.norm()) <= 1e-6


def test_lanczos_matches_dense_blocks(make_cnn_problem):
    objective = make_cnn_problem("cross", n=4)
    risk = lambda: objective.risk("exact")  # noqa: E731
    # the eigenvalues agree at any point; this one is not stationary, so the check is off
    dense = hessian_blocks(objective.model, risk, method="dense", gradient_tol=None)
    lanczos = hessian_blocks(objective.model, risk, method="lanczos", lanczos_steps=80,
                             generator=torch.Generator().manual_seed(1), gradient_tol=None)
    assert dense.off_block <= 1e-10  # block diagonal under compatibility
    for a, b in ((dense.e_min, lanczos.e_min), (dense.e_max, lanczos.e_max),
                 (dense.perp_min, lanczos.perp_min), (dense.perp_max, lanczos.perp_max)):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-8)
    with pytest.raises(SubspaceError, match="method"):
        hessian_blocks(objective.model, risk, method="exact", gradient_tol=None)
