"""Symmetry metrics: zero for exact symmetries, large for broken ones, scale-aware."""

import math

import pytest
import torch

from quotient.actions import roll_signal, rot90_image
from quotient.metrics import (
    angle_error_deg,
    apply_batched,
    canonicalisation_error,
    code_spread,
    invariance_error,
    pose_error,
    shift_error,
)


def test_invariance_error_zero_for_invariant_and_large_for_plain(gen):
    x = torch.rand(40, 1, 8, 8, generator=gen, dtype=torch.float64)
    k = torch.randint(1, 4, (40,), generator=gen)

    def invariant(t):
        return torch.stack([t.sum((1, 2, 3)), t.pow(2).sum((1, 2, 3))], -1)

    assert invariance_error(invariant, x, rot90_image, k, reduce="max") < 1e-12
    plain = invariance_error(lambda t: t.flatten(1), x, rot90_image, k)
    assert plain > 0.5


def test_invariance_error_ignores_a_constant_offset(gen):
    """Normalised by the spread of the codes, not their norm: an offset cannot hide errors."""
    x = torch.rand(40, 1, 8, 8, generator=gen, dtype=torch.float64)
    k = torch.randint(1, 4, (40,), generator=gen)

    def f(t):
        return t[:, 0, 0, :3]

    def f_offset(t):
        return t[:, 0, 0, :3] + 1e6

    e1 = invariance_error(f, x, rot90_image, k)
    e2 = invariance_error(f_offset, x, rot90_image, k)
    assert e1 > 0.1
    assert e2 == pytest.approx(e1, rel=1e-6)


def test_invariance_error_rejects_constant_codes(gen):
    x = torch.rand(5, 1, 4, 4, generator=gen)
    with pytest.raises(ValueError, match="spread"):
        invariance_error(lambda t: torch.ones(t.shape[0], 2), x, rot90_image,
                         torch.ones(5, dtype=torch.long))
    with pytest.raises(ValueError, match="reduce"):
        invariance_error(lambda t: t.flatten(1), x, rot90_image,
                         torch.ones(5, dtype=torch.long), reduce="median")


def test_code_spread():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    assert code_spread(z) == pytest.approx(1.0)


def test_angle_and_shift_distances():
    a = torch.tensor([0.0, math.pi, 0.1], dtype=torch.float64)
    b = torch.tensor([2 * math.pi - 0.1, -math.pi, 0.1 + 4 * math.pi], dtype=torch.float64)
    assert torch.allclose(angle_error_deg(a, b),
                          torch.tensor([math.degrees(0.1), 0.0, 0.0], dtype=torch.float64),
                          atol=1e-9)
    assert shift_error(torch.tensor([1.0]), torch.tensor([9.0]), 10).item() == pytest.approx(2)


def test_pose_error_exact_and_broken(gen):
    """Argmax of a signal is shift-equivariant; a constant pose is not."""
    x = torch.randn(30, 1, 16, generator=gen, dtype=torch.float64)
    k = torch.randint(16, (30,), generator=gen)

    def argmax(t):
        return t[:, 0].argmax(-1).double()

    def dist(a, b):
        return shift_error(a, b, 16)

    assert pose_error(argmax, x, roll_signal, k, dist, reduce="max") == 0.0
    broken = pose_error(lambda t: torch.zeros(t.shape[0]), x, roll_signal, k, dist)
    assert broken > 1.0


def test_pose_error_with_a_separate_coordinate(gen):
    """Quarter turns act through k but move the angle by k·π/2."""
    x = torch.rand(12, 1, 6, 6, generator=gen, dtype=torch.float64)

    def angle(t):  # the direction of the brightest pixel from the centre
        idx = t.flatten(1).argmax(1)
        row, col = idx // 6 - 2.5, idx % 6 - 2.5
        return torch.atan2(-row.double(), col.double())

    k = torch.randint(4, (12,), generator=gen)
    err = pose_error(angle, x, rot90_image, k, angle_error_deg,
                     coordinate=k.double() * (math.pi / 2),
                     reduce="max")
    assert err < 1e-9
    wrong = pose_error(angle, x, rot90_image, k, angle_error_deg, reduce="max")
    assert wrong > 1.0


def test_canonicalisation_error(gen):
    x = torch.rand(20, 1, 6, 6, generator=gen, dtype=torch.float64)
    k = torch.randint(1, 4, (20,), generator=gen)

    def sorted_pixels(t):
        return t.flatten(1).sort(1).values

    assert canonicalisation_error(sorted_pixels, x, rot90_image, k) < 1e-20
    assert canonicalisation_error(lambda t: t, x, rot90_image, k) > 0.5


def test_apply_batched_concatenates_tuples(gen):
    x = torch.randn(7, 3, generator=gen)
    a, b = apply_batched(lambda t: (t * 2, t.sum(1)), x, batch_size=3)
    assert torch.equal(a, x * 2) and torch.equal(b, x.sum(1))
    with pytest.raises(ValueError, match="batch_size"):
        apply_batched(lambda t: t, x, batch_size=0)


def test_resampling_floor_is_zero_for_exact_actions_and_positive_for_resampling():
    from quotient.actions import rot90_image, rotate_image
    from quotient.metrics import symmetry as sym

    gen = torch.Generator().manual_seed(0)
    u = torch.rand(20, 1, 12, 12, generator=gen, dtype=torch.float64)

    def pooled(x):  # invariant under any permutation of pixels
        return torch.stack([x.mean((1, 2, 3)), x.pow(2).mean((1, 2, 3))], 1)

    k_a, k_b = torch.randint(0, 4, (20,), generator=gen), torch.randint(0, 4, (20,), generator=gen)
    exact = sym.resampling_floor(pooled, u, rot90_image, k_a, k_b)
    assert exact["code"] < 1e-12 and exact["pixels"] < 1e-12
    a = torch.rand(20, generator=gen, dtype=torch.float64) * 6.28
    b = torch.rand(20, generator=gen, dtype=torch.float64) * 6.28
    resampled = sym.resampling_floor(pooled, u, rotate_image, a, b)
    assert resampled["pixels"] > 0.05  # bilinear rendering at two angles is not the same image
    same = sym.resampling_floor(pooled, u, rotate_image, a, a)
    assert same["pixels"] == 0 and same["code"] == 0
    # the pixels themselves as a code carry the whole resampling difference
    raw = sym.resampling_floor(lambda x: x.flatten(1), u, rotate_image, a, b)
    assert raw["code"] > resampled["code"]
