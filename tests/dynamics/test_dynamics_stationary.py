"""stationary_point: damped Newton in E on the ℤ₂ example, on cross-entropy with a singular
Hessian, dense against conjugate gradients; the stationarity check of hessian_blocks; Lanczos
against the dense blocks at a real stationary point; lbfgs_in_E (gradients only) reaching the
points Newton certifies, in float64 and from float32."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quotient.actions import permute_graph, rot90_image
from quotient.dynamics import (
    LocalModel,
    NonStationaryError,
    NonStationaryWarning,
    Objective,
    SubspaceError,
    Symmetry,
    convert,
    distance_to_E,
    export,
    hessian_blocks,
    lbfgs_in_E,
    stationary_point,
    subspace_layers,
    z2_example,
)
from quotient.groups import CyclicGroup, SymmetricGroup, tensor

ALPHA = 1 / math.sqrt(3)


@pytest.mark.parametrize("start", [0.9, 0.2, -1.5])
def test_z2_example_converges_to_the_hand_computed_point(start):
    ex = z2_example()
    with torch.no_grad():
        ex.model.linear.coef.fill_(start)
    result = stationary_point(ex.model, ex.risk, gtol=1e-12)
    assert result.converged and result.gradient_E <= 1e-12
    assert result.method == "dense" and result.iterations <= 12
    a = ex.model.weight().detach()
    assert torch.allclose(a, torch.full((2,), math.copysign(ALPHA, start),
                                        dtype=torch.float64), atol=1e-12, rtol=0)
    rep = hessian_blocks(ex.model, ex.risk)
    assert rep.stationary and rep.e_min == pytest.approx(16.0, abs=1e-9)
    assert rep.perp_min == pytest.approx(-16.0, abs=1e-9)


def test_z2_example_off_E_is_projected_first_or_refused():
    ex = z2_example()
    with torch.no_grad():
        ex.model.linear.coef.copy_(torch.tensor([0.3, 0.9], dtype=torch.float64))
    with pytest.raises(SubspaceError, match="not in E"):
        stationary_point(ex.model, ex.risk, project=False)
    assert stationary_point(ex.model, ex.risk).converged  # projects onto E, then converges
    assert ex.model.linear.distance_to_E() <= 1e-15


def _invariant_linear_classifier():
    """A plain S4-invariant linear classifier of graphs with cross-entropy: convex, and the
    E-block of its Hessian is singular (adding one constant to every logit changes nothing;
    the diagonal of an adjacency matrix is zero)."""
    s4 = SymmetricGroup(4)
    perm = s4.rep("permutation")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        plain = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    gen = torch.Generator().manual_seed(1)
    a = torch.triu((torch.rand(10, 4, 4, generator=gen) < 0.5).double(), 1)
    a = a + a.transpose(1, 2)
    # every graph appears with every label, so the minimum is finite
    x = a.repeat(3, 1, 1)
    y = torch.cat([(a.sum((1, 2)) / 2).long() % 3, torch.ones(10), 2 * torch.ones(10)]).long()
    net = convert(plain, s4, input=tensor(perm, perm), output="trivial", input_shape=(4, 4))
    return Objective(net, F.cross_entropy, x, y, Symmetry(s4, permute_graph))


def test_cross_entropy_with_a_singular_hessian_converges():
    objective = _invariant_linear_classifier()
    local = LocalModel(objective.model, objective.risk)
    from quotient.dynamics.stationary import _e_basis

    u = _e_basis(local)
    h = torch.stack([u.T @ local.hvp(u[:, j]).detach() for j in range(u.shape[1])], 1)
    assert float(torch.linalg.eigvalsh(h).abs().min()) <= 1e-12  # singular
    with pytest.raises(RuntimeError, match="singular"):  # what a raw Newton step runs into
        torch.linalg.solve(h, u.T @ local.gradient())
    result = stationary_point(objective.model, objective.risk)
    assert result.converged and result.gradient_E <= 1e-10 and result.iterations <= 20
    rep = hessian_blocks(objective.model, lambda: objective.risk("exact"))
    assert rep.stationary and rep.gradient_E <= 1e-10
    assert rep.e_min >= -1e-12 and rep.perp_min >= -1e-12  # convex


def _tanh_cnn():
    c4 = CyclicGroup(4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        plain = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                              nn.Linear(4 * 4 * 4, 3)).double()
    net = convert(plain, c4, input="trivial", hidden="regular", output="trivial",
                  spatial=rot90_image, input_shape=(1, 7, 7))
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(8, 1, 7, 7, dtype=torch.float64, generator=gen)
    y = torch.randint(3, (8,), generator=gen)
    objective = Objective(net, F.cross_entropy, x, y, Symmetry(c4, rot90_image))
    layers = subspace_layers(net)

    def risk(augment: str = "none") -> torch.Tensor:  # cross-entropy + weight decay 0.01
        return objective.risk(augment) + 0.01 * sum(
            layer.weight_flat().pow(2).sum() for layer in layers)

    return objective, risk


def test_dense_and_conjugate_gradient_routes_agree_on_a_convex_problem():
    probs, values = [], []
    for method in ("dense", "cg"):
        objective = _invariant_linear_classifier()
        result = stationary_point(objective.model, objective.risk, method=method)
        assert result.converged and result.gradient_E <= 1e-10, method
        assert result.method == method
        values.append(result.risk)
        with torch.no_grad():  # minimisers differ along the flat directions; predictions do not
            probs.append(objective.model(objective.x).softmax(-1))
    assert values[0] == pytest.approx(values[1], abs=1e-13)
    assert float((probs[0] - probs[1]).abs().max()) <= 1e-8


@pytest.fixture(scope="module")
def stationary_cnn():
    """The tanh CNN at a stationary point of its regularised cross-entropy in E (conjugate
    gradients; the dense route is the default for this size)."""
    objective, risk = _tanh_cnn()
    result = stationary_point(objective.model, risk, method="cg")
    assert result.converged and result.gradient_E <= 1e-10
    return objective.model.state_dict()


def test_lanczos_matches_dense_blocks_at_a_stationary_point(stationary_cnn):
    objective, risk = _tanh_cnn()
    objective.model.load_state_dict(stationary_cnn)
    aug = lambda: risk("exact")  # noqa: E731
    dense = hessian_blocks(objective.model, aug, method="dense")
    lanczos = hessian_blocks(objective.model, aug, method="lanczos", lanczos_steps=60,
                             generator=torch.Generator().manual_seed(0))
    assert dense.stationary and lanczos.stationary and dense.off_block <= 1e-10
    assert (dense.dim_E, dense.dim_perp) == (lanczos.dim_E, lanczos.dim_perp) == (61, 174)
    for a, b in ((dense.e_min, lanczos.e_min), (dense.e_max, lanczos.e_max),
                 (dense.perp_min, lanczos.perp_min), (dense.perp_max, lanczos.perp_max)):
        assert b == pytest.approx(a, abs=1e-9)
    assert lanczos.e_residual <= 1e-8 and lanczos.perp_residual <= 1e-8


def test_hessian_blocks_warn_or_refuse_away_from_a_stationary_point(stationary_cnn):
    objective, risk = _tanh_cnn()
    quick = dict(method="lanczos", lanczos_steps=2)
    with pytest.warns(NonStationaryWarning, match="stationary_point"):
        rep = hessian_blocks(objective.model, risk, **quick)
    assert not rep.stationary and rep.gradient_E > 1e-3 and rep.gradient_tol == 1e-6
    with pytest.raises(NonStationaryError, match="not a stationary point"):
        hessian_blocks(objective.model, risk, on_nonstationary="raise", **quick)
    quiet = hessian_blocks(objective.model, risk, on_nonstationary="ignore", **quick)
    assert not quiet.stationary
    objective.model.load_state_dict(stationary_cnn)  # the same network at its stationary point
    assert hessian_blocks(objective.model, risk, on_nonstationary="raise", **quick).stationary
    with pytest.raises(SubspaceError, match="on_nonstationary"):
        hessian_blocks(objective.model, risk, on_nonstationary="shout")
    with pytest.raises(SubspaceError, match="method"):
        stationary_point(objective.model, risk, method="newton")


@pytest.mark.parametrize("start", [0.9, -1.5])
def test_lbfgs_reaches_the_hand_computed_z2_point(start):
    ex = z2_example()
    with torch.no_grad():
        ex.model.linear.coef.copy_(torch.tensor([start, 0.4], dtype=torch.float64))  # off E
    trace = []
    result = lbfgs_in_E(ex.model, ex.risk, gtol=1e-12, check_every=1,
                        progress=lambda *r: trace.append(r))
    assert result.converged and result.method == "lbfgs" and result.gradient_E <= 1e-12
    a = ex.model.weight().detach()
    expected = math.copysign(ALPHA, start + 0.4)  # projected first: (start + 0.4)/2 each
    assert torch.allclose(a, torch.full((2,), expected, dtype=torch.float64), atol=1e-12,
                          rtol=0)
    risks = [r for _, r, _ in trace]
    assert all(b <= a + 1e-15 for a, b in zip(risks, risks[1:], strict=False))  # Armijo


def test_lbfgs_stays_in_E_and_newton_certifies_its_point(stationary_cnn):
    objective, risk = _tanh_cnn()
    result = lbfgs_in_E(objective.model, risk, gtol=1e-9, max_iter=3000, check_every=20)
    assert result.converged and result.gradient_E <= 1e-9
    assert distance_to_E(objective.model) <= 1e-13  # never left E
    check = stationary_point(objective.model, risk, gtol=1e-8)  # measured in L-coordinates
    assert check.converged and check.iterations == 0
    assert check.risk == pytest.approx(result.risk, abs=1e-14)
    newton, _ = _tanh_cnn()
    newton.model.load_state_dict(stationary_cnn)
    with torch.no_grad():  # the same minimum as damped Newton's from the same start
        assert float((newton.model(newton.x) - objective.model(objective.x)).abs().max()) <= 1e-7


def test_lbfgs_in_float32_gets_near_and_float64_finishes():
    objective, risk = _tanh_cnn()
    net32 = convert(export(objective.model).float(), CyclicGroup(4), input="trivial",
                    hidden="regular", output="trivial", spatial=rot90_image,
                    input_shape=(1, 7, 7))
    layers32 = subspace_layers(net32)
    x32 = objective.x.float()

    def risk32() -> torch.Tensor:
        return F.cross_entropy(net32(x32), objective.y) + 0.01 * sum(
            layer.weight_flat().pow(2).sum() for layer in layers32)

    near = lbfgs_in_E(net32, risk32, gtol=1e-3, max_iter=500)
    assert near.converged and near.gradient_E <= 1e-3 and distance_to_E(net32) <= 1e-5
    for dst, src in zip(subspace_layers(objective.model), layers32, strict=True):
        with torch.no_grad():
            dst.coef.copy_(src.coef.double())
    done = lbfgs_in_E(objective.model, risk, gtol=1e-9, max_iter=3000)
    assert done.converged and done.iterations < near.iterations + 3000


def test_lbfgs_refuses_what_it_cannot_do():
    with pytest.raises(SubspaceError, match="no subspace layers"):
        lbfgs_in_E(nn.Linear(2, 1), lambda: torch.zeros(()))
    objective, risk = _tanh_cnn()
    with pytest.raises(SubspaceError, match="risk is nan"):
        lbfgs_in_E(objective.model, lambda: risk() * float("nan"))
    stalled = lbfgs_in_E(objective.model, risk, gtol=0.0, max_iter=5)
    assert not stalled.converged and stalled.message == "max_iter reached"
