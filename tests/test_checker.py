"""The equivariance checker accepts exact equivariant functions and rejects broken ones."""

import dataclasses
import re

import pytest
import torch

from quotient.actions import (
    identity_action,
    permute_set,
    rigid_motion,
    rot90_image,
    rotate_points,
)
from quotient.groups import SE3, SO2, SO3, CyclicGroup, SymmetricGroup
from quotient.nn.pose import Pose
from quotient.symmetry import Symmetry
from quotient.testing import (
    assert_equivariant,
    assert_invariant,
    check_module,
    elements_to_test,
    equivariance_error,
)


def _sets(gen, dtype=torch.float64):
    return torch.randn(6, 7, 3, dtype=dtype, generator=gen)


def deepsets(x):
    return x * 2.0 + torch.tanh(x.sum(1, keepdim=True))


def test_accepts_exact_equivariant_and_invariant(gen):
    x = _sets(gen)
    rep = assert_equivariant(deepsets, SymmetricGroup(7), permute_set, permute_set, x,
                             generator=gen)
    assert rep.error < 1e-12
    assert_invariant(lambda s: s.sum(1).exp(), SymmetricGroup(7), permute_set, x, generator=gen)
    pts = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    centred = lambda p: p - p.mean(1, keepdim=True)  # noqa: E731
    assert_invariant(lambda p: torch.cdist(p, p), SE3(), rigid_motion, pts, generator=gen)
    assert_equivariant(centred, SO3(), rotate_points, rotate_points, pts, generator=gen)


def test_rejects_position_dependent_module(gen):
    """Broken 1: weights depend on the slot index (what embedding the node index does)."""
    w = torch.linspace(0.5, 1.5, 7, dtype=torch.float64)[None, :, None]
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda s: s * w, SymmetricGroup(7), permute_set, permute_set,
                           _sets(gen), generator=gen)


def test_rejects_near_identity_trick(gen):
    """Broken 2: a map that is nearly, but not, equivariant, tested with elements close to the
    identity. The plain relative error ‖f(gx) − g f(x)‖/‖f(x)‖ is ~1e-6 and would pass a
    float32 tolerance; the checker scales by how much g moved x and fails it. Elements that move
    nothing at all are refused rather than counted as passes."""
    w = torch.eye(3, dtype=torch.float64) + 0.05 * torch.randn(3, 3, dtype=torch.float64,
                                                               generator=gen)
    pts = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    f = lambda p: p @ w.T  # noqa: E731
    small = torch.linalg.matrix_exp(1e-4 * SO3().lie_algebra()[[0, 1]])  # near-identity
    g = small[:1].expand(4, 3, 3)
    naive = float((f(rotate_points(g, pts)) - rotate_points(g, f(pts))).norm() / f(pts).norm())
    assert naive < 1e-5  # the naive float32-tolerance check would pass
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(f, SO3(), rotate_points, rotate_points, pts, elements=small, tol=1e-5)
    tiny = torch.linalg.matrix_exp(1e-9 * SO3().lie_algebra()[[0, 1]])
    with pytest.raises(ValueError, match="vacuous"):
        assert_equivariant(f, SO3(), rotate_points, rotate_points, pts, elements=tiny)


def test_rejects_tiny_output_breakage(gen):
    """Broken 3: the non-equivariant part is hidden by scaling the whole output down."""
    w = torch.linspace(0.5, 1.5, 7, dtype=torch.float64)[None, :, None]
    with pytest.raises(AssertionError):
        assert_equivariant(lambda s: 1e-12 * s * w, SymmetricGroup(7), permute_set,
                           permute_set, _sets(gen), generator=gen)


def test_rejects_subgroup_only_equivariance(gen):
    """Broken 4: invariant under the half turn only (C2 ⊂ C4), not under C4."""
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64, generator=gen)
    f = lambda im: im + torch.rot90(im, 2, dims=(-2, -1))  # noqa: E731
    assert_invariant(lambda im: f(im).sum((1, 2, 3)), CyclicGroup(4), rot90_image, x,
                     generator=gen)  # genuinely invariant summary
    with pytest.raises(AssertionError):
        assert_invariant(f, CyclicGroup(4), rot90_image, x,
                         elements=torch.tensor([1, 2, 3]))


def test_refuses_vacuous_inputs(gen):
    """Inputs fixed by every element (a constant set) cannot reveal anything."""
    x = torch.ones(3, 7, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="vacuous"):
        equivariance_error(lambda s: s * 2, SymmetricGroup(7), permute_set, permute_set, x,
                           generator=gen)


def test_refuses_nan_output(gen):
    with pytest.raises(ValueError, match="NaN"):
        equivariance_error(lambda s: s * float("nan"), SymmetricGroup(7), permute_set,
                           permute_set, _sets(gen), generator=gen)


def test_float32_module_passes_at_float32_tolerance(gen):
    lin = torch.nn.Linear(3, 3, bias=False)
    x = _sets(gen)
    module = lambda s: lin(s) + lin(s).mean(1, keepdim=True)  # noqa: E731
    rep = assert_equivariant(module, SymmetricGroup(7), permute_set, permute_set, x,
                             generator=gen, dtype=torch.float32)
    assert rep.tolerance == 1e-5 and rep.dtype == torch.float32
    assert rep.error > 0  # float32 rounding is visible, so the float64 tolerance would fail


def test_check_module_reads_declared_symmetry(gen):
    class SumPool(torch.nn.Module):
        symmetry = Symmetry(lambda x: SymmetricGroup(x.shape[1]), permute_set)

        def forward(self, s):
            return s.sum(1)

    class Broken(SumPool):
        def forward(self, s):
            return s[:, 0]

    check_module(SumPool().double(), _sets(gen), generator=gen)
    with pytest.raises(AssertionError, match="not invariant under S7"):
        check_module(Broken().double(), _sets(gen), generator=gen)
    with pytest.raises(TypeError, match="declares no symmetry"):
        check_module(torch.nn.Linear(3, 3), _sets(gen))


# --- soundness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [SO2(), CyclicGroup(8), CyclicGroup(2)])
def test_an_action_written_for_another_group_is_refused(group, gen):
    """rot90_image reads its elements as quarter turns: SO(2) angles or C8 elements would be
    misread (cast to quarter turns) and a C4-invariant function would 'pass'."""
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64, generator=gen)
    c4_invariant = lambda im: sum(torch.rot90(im, k, dims=(-2, -1)) for k in range(4))  # noqa: E731
    with pytest.raises(ValueError, match=re.escape(f"rot90_image acts on C4 but the group is "
                                                   f"{group.name}: its elements would be "
                                                   "misread")):
        assert_invariant(c4_invariant, group, rot90_image, x)


def test_a_half_turn_invariant_function_fails_c4_for_every_seed():
    """Every element of C4 is tested by default, so no seed can miss the quarter turn."""
    f = lambda im: im + torch.rot90(im, 2, dims=(-2, -1))  # noqa: E731
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(2, 1, 6, 6, dtype=torch.float64, generator=g)
        with pytest.raises(AssertionError, match="rotation by (90|270)°"):
            assert_invariant(f, CyclicGroup(4), rot90_image, x, generator=g)


def test_the_failure_names_the_element_in_words_and_what_was_asked(gen):
    x = _sets(gen)
    with pytest.raises(AssertionError) as info:
        assert_invariant(lambda s: s[:, 0], SymmetricGroup(7), permute_set, x, generator=gen,
                         elements=torch.tensor([[1, 0, 2, 3, 4, 5, 6]]))
    message = str(info.value)
    assert message.startswith("not invariant under S7: relative error")
    assert "for permutation (0 1) (1 of 1 elements fail" in message


def test_finite_groups_are_enumerated_and_large_ones_sampled(gen):
    assert elements_to_test(CyclicGroup(4)).tolist() == [0, 1, 2, 3]
    big = elements_to_test(SymmetricGroup(7), 5, generator=gen)  # 5040 > 512 elements
    assert big.shape == (2 + 5, 7)  # the two generators, then 5 random ones
    assert elements_to_test(SO3(), 4, generator=gen).shape == (4, 3, 3)


def test_dict_and_dataclass_outputs_are_checked_leaf_by_leaf(gen):
    x = _sets(gen)
    good = lambda s: {"z": s.sum(1), "h": s * 2}  # noqa: E731
    acts = {"z": None, "h": permute_set}
    assert_equivariant(good, SymmetricGroup(7), permute_set, acts, x, generator=gen)
    bad = lambda s: {"z": s.sum(1), "h": s[:, :1].expand_as(s)}  # noqa: E731
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(bad, SymmetricGroup(7), permute_set, acts, x, generator=gen)

    @dataclasses.dataclass
    class Out:
        z: torch.Tensor
        pose: Pose

    f = lambda s: Out(s.sum(1), Pose(s.sum((1, 2)), lambda c: c))  # noqa: E731
    assert_invariant(f, SymmetricGroup(7), permute_set, x, generator=gen)
    with pytest.raises(TypeError, match=r"f\(x\)\[1\] is a str, which the checker cannot compare"):
        assert_invariant(lambda s: (s.sum(1), "label"), SymmetricGroup(7), permute_set, x)


def test_identity_action_is_passed_as_is(gen):
    x = _sets(gen)
    rep = assert_equivariant(lambda s: s.sum(1), SymmetricGroup(7), permute_set,
                             identity_action, x, generator=gen)
    assert rep.error < 1e-12


def test_the_input_action_runs_in_float64(gen):
    """A float32 input is moved in float64, so the action's rounding is not blamed on f (an
    exactly invariant f passes at the float64 tolerance with float32 data)."""
    x = torch.randn(4, 5, 3, generator=gen)  # float32
    report = assert_invariant(lambda p: torch.cdist(p, p).sum((1, 2)), SE3(), rigid_motion, x,
                              generator=gen, dtype=torch.float64)
    assert report.error < 1e-10
