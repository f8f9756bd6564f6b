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
    flatten_output,
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


# --- what exactly is measured (each test kills mutants of checker.py; scripts/mutation.py) ---


def _recording(act, seen):
    """``act`` that records the dtypes of the elements and data it is given."""

    def run(g, y):
        parts = y.values() if isinstance(y, dict) else y if isinstance(y, (tuple, list)) else [y]
        seen.append((g.dtype, *(p.dtype for p in parts)))
        return act(g, y)

    return run


def _rotate_each(g, y):
    if isinstance(y, dict):
        return {k: rotate_points(g, v) for k, v in y.items()}
    return type(y)(rotate_points(g, v) for v in y)


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: (p, p * 2), lambda p: [p, p * 2],
                                  lambda p: {"a": p, "b": p * 2}],
                         ids=["tensor", "tuple", "list", "dict"])
def test_both_actions_see_float64_data_and_elements(wrap, gen):
    """The group action is applied in float64 on both sides, whatever f computes in and
    whatever the elements' dtype: a float32 f on float32 data (a tensor or a tuple, list or
    dict of them) with float32 rotation matrices hands only float64 to the actions."""
    seen = []
    pts = torch.randn(4, 5, 3, generator=gen)  # float32
    x = wrap(pts)
    act = rotate_points if isinstance(x, torch.Tensor) else _rotate_each
    centre = lambda p: p - p.mean(1, keepdim=True)  # noqa: E731
    f = centre if isinstance(x, torch.Tensor) else (
        lambda y: {k: centre(v) for k, v in y.items()} if isinstance(y, dict)
        else type(y)(centre(v) for v in y))
    elements = SO3().sample(3, generator=gen).float()
    report = assert_equivariant(f, SO3(), _recording(act, seen), _recording(act, seen), x,
                                elements=elements)
    assert report.dtype == torch.float32  # f ran in float32 ...
    assert len(seen) == 2 * 3 and all(d == torch.float64 for dtypes in seen for d in dtypes)


def test_integer_parts_of_the_input_stay_integers(gen):
    """Only floating-point parts are cast: atom types (long) reach f as long (an embedding
    or one-hot needs them so)."""
    pts = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    types = torch.randint(0, 4, (4, 5), generator=gen)
    f = lambda t: torch.cat([t[0], torch.nn.functional.one_hot(t[1], 4).to(t[0].dtype)], -1)  # noqa: E731
    report = assert_equivariant(f, SymmetricGroup(5), permute_set, permute_set, (pts, types))
    assert report.error < 1e-12


def test_the_dtype_comes_from_the_module_else_the_first_float_input(gen):
    pts32 = torch.randn(4, 5, 3, generator=gen)
    types = torch.randint(0, 4, (4, 5), generator=gen)
    pool = lambda t: t.sum(1) if isinstance(t, torch.Tensor) else t[1].sum(1)  # noqa: E731
    # a plain function: the first floating-point tensor of the input, integer parts skipped
    rep = assert_invariant(pool, SymmetricGroup(5), permute_set, pts32)
    assert (rep.dtype, rep.tolerance) == (torch.float32, 1e-5)
    assert assert_invariant(pool, SymmetricGroup(5), permute_set, (types, pts32)).dtype == \
        torch.float32
    as_list = lambda g, t: [permute_set(g, p) for p in t]  # noqa: E731
    assert assert_invariant(pool, SymmetricGroup(5), as_list, [types, pts32]).dtype == \
        torch.float32
    as_dict = {"t": types, "p": pts32}
    rep = assert_invariant(lambda d: d["p"].sum(1), SymmetricGroup(5),
                           lambda g, d: {k: permute_set(g, v) for k, v in d.items()}, as_dict)
    assert rep.dtype == torch.float32
    # integer inputs only: float64, with its tolerance
    rep = assert_invariant(lambda t: t.sum(1).double(), SymmetricGroup(5), permute_set, types)
    assert (rep.dtype, rep.tolerance) == (torch.float64, 1e-10)
    # a module: its parameters decide, not the float64 input
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    rep = equivariance_error(module, SymmetricGroup(5), permute_set, permute_set,
                             pts32.double())
    assert rep.dtype == torch.float32


def test_a_dtype_without_its_own_tolerance_gets_the_float32_one(gen):
    x = torch.randn(3, 5, 2, dtype=torch.float64, generator=gen)
    f = lambda s: s.double().amax(1)  # noqa: E731
    rep = assert_invariant(f, SymmetricGroup(5), permute_set, x, dtype=torch.float8_e4m3fn)
    assert rep.tolerance == 1e-5 and rep.dtype == torch.float8_e4m3fn


def test_inputs_may_carry_parts_that_are_not_data(gen):
    """A string or a module riding along with the input does not move and is skipped; parts of
    different sizes per sample are joined per sample."""
    pts = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    feats = torch.randn(4, 5, 2, dtype=torch.float64, generator=gen)
    x = (pts, ("label", torch.nn.Identity()), feats)
    act = lambda g, t: (permute_set(g, t[0]), t[1], permute_set(g, t[2]))  # noqa: E731
    rep = assert_invariant(lambda t: t[0].sum(1) + t[2].sum((1, 2))[:, None], SymmetricGroup(5),
                           act, x)
    assert rep.error < 1e-12
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(lambda t: t[2][:, 0], SymmetricGroup(5), act, x)


def test_a_pose_is_compared_by_its_element(gen):
    x = _sets(gen)
    not_invariant = lambda s: Pose(s[:, 0, 0], lambda c: c)  # noqa: E731
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(not_invariant, SymmetricGroup(7), permute_set, x)


def test_flatten_output_is_float64_per_sample_in_key_order():
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    b = torch.ones(2, 1, 2, dtype=torch.float32)
    flat = flatten_output({"b": b, 1: a})  # keys of mixed types, ordered by their text
    assert flat.dtype == torch.float64
    assert torch.equal(flat, torch.cat([a, b.reshape(2, 2)], 1).double())
    with pytest.raises(TypeError, match=r"^output holds no tensors to compare$"):
        flatten_output(())
    with pytest.raises(TypeError, match=r"^output\[0\] is a str"):
        flatten_output(["a"])


CANNOT_COMPARE = (", which the checker cannot compare; return tensors (or tuples, dicts or "
                  "dataclasses of them), or declare Symmetry(observe=...) to pick the tensors "
                  "the promise is about")


def test_every_refusal_names_what_and_where(gen):
    """One clear line for each mistake, naming the part at fault (the input x, the moved input
    g·x, the output f(x) or f(g·x) — a field, key or pose element of it — or g·f(x))."""
    x = _sets(gen)
    s7 = SymmetricGroup(7)

    @dataclasses.dataclass
    class Out:
        z: torch.Tensor
        label: str

    def only_on(x0, then):  # f that misbehaves on moved inputs only
        return lambda s: s if torch.equal(s, x0) else then(s)

    cases = [
        (lambda: equivariance_error(deepsets, s7, permute_set, permute_set, ("a", "b")),
         TypeError, "x holds no tensors"),
        (lambda: equivariance_error(deepsets, s7, lambda g, s: "moved", permute_set, x),
         TypeError, "g·x holds no tensors"),
        (lambda: equivariance_error(deepsets, s7, permute_set, permute_set,
                                    (x, torch.tensor(1.0))),
         TypeError, "x[1] is a scalar; a batched output (batch, ...) is needed"),
        (lambda: equivariance_error(lambda s: s.sum(), s7, permute_set, None, x),
         TypeError, "f(x) is a scalar; a batched output (batch, ...) is needed"),
        (lambda: equivariance_error(lambda s: Out(s.sum(1), "z"), s7, permute_set, None, x),
         TypeError, "f(x).label is a str" + CANNOT_COMPARE),
        (lambda: equivariance_error(lambda s: {"k": "v"}, s7, permute_set, None, x),
         TypeError, "f(x)['k'] is a str" + CANNOT_COMPARE),
        (lambda: equivariance_error(lambda s: Pose("e", None), s7, permute_set, None, x),
         TypeError, "f(x).element is a str" + CANNOT_COMPARE),
        (lambda: equivariance_error(only_on(x, lambda s: "text"), s7, permute_set,
                                    permute_set, x),
         TypeError, "f(g·x) is a str" + CANNOT_COMPARE),
        (lambda: equivariance_error(deepsets, s7, permute_set, lambda g, y: "text", x),
         TypeError, "g·f(x) is a str" + CANNOT_COMPARE),
        (lambda: equivariance_error(deepsets, s7, permute_set,
                                    lambda g, y: torch.cat([y, y], 1), x),
         ValueError, "f(g·x) has 21 numbers per sample but g·f(x) has 42; the output action "
                     "does not fit the output"),
        (lambda: equivariance_error(lambda s: s * float("nan"), s7, permute_set, permute_set,
                                    x),
         ValueError, "f(x) has NaN or infinite values; the check needs finite outputs"),
        (lambda: equivariance_error(only_on(x, lambda s: s * float("inf")), s7, permute_set,
                                    permute_set, x),
         ValueError, "f(g·x) has NaN or infinite values"),
        (lambda: equivariance_error(deepsets, s7, permute_set, permute_set,
                                    torch.ones(3, 7, 2, dtype=torch.float64)),
         ValueError, "none of the tested group elements moves the inputs (‖g·x − x‖ ≈ 0): the "
                     "check would be vacuous; pass inputs without that symmetry (e.g. random "
                     "ones) or other elements"),
        (lambda: elements_to_test(SO3(), 0), ValueError, "n_elements must be at least 1"),
        (lambda: check_module(torch.nn.Linear(3, 3), x), TypeError,
         "Linear declares no symmetry; equivariant modules set symmetry = "
         "quotient.symmetry.Symmetry(group, input_action, output_actions)"),
    ]
    for run, error, message in cases:
        with pytest.raises(error) as info:
            run()
        assert str(info.value) == message


def test_the_failure_says_which_dtype_f_was_evaluated_in(gen):
    w = torch.linspace(0.5, 1.5, 7, dtype=torch.float64)[None, :, None]
    for dtype in (torch.float64, torch.float32):
        with pytest.raises(AssertionError, match=rf"; evaluated in {str(dtype)[6:]}\)$"):
            assert_equivariant(lambda s: s * w.to(s.dtype), SymmetricGroup(7), permute_set,
                               permute_set, _sets(gen, dtype), generator=gen)


def _by_the_formula(f, x, elements):
    """The docstring's relative error, computed independently with permutation matrices:
    per element, max over informative samples of
    ‖f(g·x) − g·f(x)‖ / (max(‖f(x)‖, ‖g·f(x)‖) · min(1, ‖g·x − x‖/‖x‖))."""
    errors, moved = [], []
    for perm in elements:
        p = torch.zeros(len(perm), len(perm), dtype=torch.float64)
        p[perm, torch.arange(len(perm))] = 1.0  # P e_i = e_σ(i)
        gx, gfx = p @ x, p @ f(x)
        num = (f(gx) - gfx).flatten(1).norm(dim=1)
        scale = torch.maximum(f(x).flatten(1).norm(dim=1), gfx.flatten(1).norm(dim=1))
        move = (gx - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
        rel = num / (scale * move.clamp(max=1.0))
        errors.append(float(rel[move > 1e-6].max()) if bool((move > 1e-6).any()) else 0.0)
        moved.append(float(move.median()))
    return torch.tensor(errors, dtype=torch.float64), torch.tensor(moved, dtype=torch.float64)


def test_the_error_is_the_documented_relative_error():
    """Per element, the worst sample of the documented formula, and the median movement:
    samples of very different sizes (one moved by more than its own norm, one much smaller
    than 1), a violation of norm exactly 1, and the identity (moves nothing: error 0)."""
    x = torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [0.0, 0.1]],
                      [[0.003, 0.001], [0.002, -0.004], [0.001, 0.002]],
                      [[3.0, 1.0], [2.0, 2.0], [0.5, -1.0]]], dtype=torch.float64)
    c = torch.zeros(1, 3, 2, dtype=torch.float64)
    c[0, 0] = 0.5  # f(g·x) − g·f(x) = c − g·c: norm exactly 1 when g moves slot 0
    f = lambda s: s * 2.0 + c  # noqa: E731
    elements = torch.tensor([[0, 1, 2], [1, 0, 2], [1, 2, 0], [0, 2, 1]])
    report = equivariance_error(f, SymmetricGroup(3), permute_set, permute_set, x,
                                elements=elements)
    errors, moved = _by_the_formula(f, x, elements)
    assert errors[0] == 0 and bool((errors[1:3] > 0).all())
    assert torch.allclose(report.errors, errors, rtol=1e-12, atol=0)
    assert torch.allclose(report.moved, moved, rtol=1e-12, atol=0)
    assert report.error == pytest.approx(float(errors.max()), rel=1e-12)
    # relative throughout: scaling the inputs (and so f's offset) changes nothing
    scaled = equivariance_error(lambda s: s * 2.0 + 1e-3 * c, SymmetricGroup(3), permute_set,
                                permute_set, 1e-3 * x, elements=elements)
    assert torch.allclose(scaled.errors, report.errors, rtol=1e-9, atol=0)
    assert torch.allclose(scaled.moved, report.moved, rtol=1e-9, atol=0)


def test_tol_is_honoured_up_to_and_including_the_boundary(gen):
    x = _sets(gen)
    w = 1.0 + 1e-3 * torch.linspace(0, 1, 7, dtype=torch.float64)[None, :, None]
    nearly = lambda s: s * w  # noqa: E731
    elements = SymmetricGroup(7).sample(4, generator=gen)
    rep = equivariance_error(nearly, SymmetricGroup(7), permute_set, permute_set, x,
                             elements=elements)
    assert 1e-5 < rep.error < 1e-2
    with pytest.raises(AssertionError):
        assert_equivariant(nearly, SymmetricGroup(7), permute_set, permute_set, x,
                           elements=elements)  # float64 default tolerance
    assert_equivariant(nearly, SymmetricGroup(7), permute_set, permute_set, x,
                       elements=elements, tol=1e-2)
    assert_equivariant(nearly, SymmetricGroup(7), permute_set, permute_set, x,
                       elements=elements, tol=rep.error)  # error == tol passes
    # tol = 0: only the elements with a non-zero error fail (the identity and the half turn
    # of a half-turn-invariant function have none)
    half = lambda im: im + torch.rot90(im, 2, dims=(-2, -1))  # noqa: E731
    with pytest.raises(AssertionError, match=r"\(2 of 4 elements fail"):
        assert_invariant(half, CyclicGroup(4), rot90_image,
                         torch.rand(2, 1, 6, 6, dtype=torch.float64, generator=gen), tol=0.0)


def test_defaults_and_sampling_are_reproducible(gen):
    """Five random elements by default (Lie groups, large finite groups with their generators
    first), in float64; a finite group of exactly MAX_ENUMERATED elements is enumerated; the
    generator decides the sample and is passed through every entry point."""
    assert elements_to_test(SO3()).shape == (5, 3, 3)
    assert elements_to_test(SO3(), 1).shape == (1, 3, 3)
    assert elements_to_test(SO3()).dtype == torch.float64
    assert torch.equal(elements_to_test(CyclicGroup(512)), torch.arange(512))
    assert elements_to_test(CyclicGroup(513)).shape == (1 + 5,)

    def seeded(seed):
        return torch.Generator().manual_seed(seed)

    assert torch.equal(elements_to_test(SO3(), 3, generator=seeded(7)),
                       elements_to_test(SO3(), 3, generator=seeded(7)))
    assert not torch.equal(elements_to_test(SO3(), 3, generator=seeded(7)),
                           elements_to_test(SO3(), 3, generator=seeded(8)))
    pts = torch.randn(4, 5, 3, dtype=torch.float64, generator=gen)
    centred = lambda p: p - p.mean(1, keepdim=True)  # noqa: E731
    for check in (equivariance_error, assert_equivariant):
        rep = check(centred, SO3(), rotate_points, rotate_points, pts)
        assert len(rep.errors) == 5 and rep.group == "SO(3)"
        rep = check(centred, SO3(), rotate_points, rotate_points, pts, n_elements=3,
                    generator=seeded(7))
        assert torch.equal(rep.elements, elements_to_test(SO3(), 3, generator=seeded(7)))
        assert len(rep.described) == len(rep.errors) == len(rep.moved) == 3


def test_observe_and_the_output_actions_reach_the_check(gen):
    """What to observe and the output actions are used both when passed directly and when read
    from a module's declared symmetry; keyword arguments of check_module reach the check."""
    x = _sets(gen)
    s7 = SymmetricGroup(7)
    f = lambda s: (deepsets(s), s[:, 0])  # the second part is not equivariant  # noqa: E731
    rep = assert_equivariant(f, s7, permute_set, permute_set, x, generator=gen,
                             observe=lambda y: y[0])
    assert rep.error < 1e-12

    class Equivariant(torch.nn.Module):
        symmetry = Symmetry(lambda x: SymmetricGroup(x.shape[1]), permute_set,
                            output=permute_set, observe=lambda y: y[0])

        def forward(self, s):
            return f(s)

    rep = check_module(Equivariant(), x, elements=s7.sample(3, generator=gen))
    assert rep.error < 1e-12 and len(rep.errors) == 3


@pytest.mark.parametrize("structure", [lambda a: (None, a), lambda a: {"z": None, "v": a}],
                         ids=["tuple", "dict"])
def test_an_output_action_written_for_another_group_is_refused(structure, gen):
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64, generator=gen)
    unchecked = lambda g, im: im  # noqa: E731 - not an Action: declares no groups
    with pytest.raises(ValueError, match="rot90_image acts on C4 but the group is SO"):
        equivariance_error(lambda im: (im.sum((1, 2, 3)), im), SO2(), unchecked,
                           structure(rot90_image), x)
    with pytest.raises(ValueError, match="rot90_image acts on C4 but the group is SO"):
        equivariance_error(lambda im: im, SO2(), unchecked, rot90_image, x)
