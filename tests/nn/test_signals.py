"""Circular signal encoder and the shift pose head: exact under integer shifts, clear errors."""

import pytest
import torch

from quotient.actions import roll_signal
from quotient.groups import CyclicShifts
from quotient.nn.pose_so2 import ShiftPoseHead, fourier_shift, shift_phase
from quotient.nn.signals import CircularEncoder, MLPDecoder, MLPEncoder, roll_map
from quotient.testing import assert_equivariant, assert_invariant

L = 24
GROUP = CyclicShifts(L)
SHIFTS = torch.tensor([1, 5, 13, 23])


def _encoder():
    return CircularEncoder(latent_dim=5, widths=(6, 6), kernel_size=3, length=L,
                           hidden=12).double()


def test_code_is_invariant_float64(gen):
    enc = _encoder()
    x = torch.randn(5, 1, L, generator=gen, dtype=torch.float64)
    rep = assert_invariant(enc.encode, GROUP, roll_signal, x, elements=SHIFTS)
    assert rep.error <= 1e-10


def test_score_map_is_equivariant_float64(gen):
    enc = _encoder()
    x = torch.randn(5, 1, L, generator=gen, dtype=torch.float64)
    assert_equivariant(lambda t: enc(t)[1], GROUP, roll_signal, roll_map, x, elements=SHIFTS)


def test_plain_encoder_is_not_invariant(gen):
    enc = MLPEncoder(length=L, latent_dim=5, hidden=16).double()
    x = torch.randn(5, 1, L, generator=gen, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_invariant(enc, GROUP, roll_signal, x, elements=SHIFTS)


def test_shift_phase_reads_a_rolled_bump():
    """ξ on synthetic input: a bump at position p is read as p plus a fixed offset."""
    t = torch.arange(L, dtype=torch.float64)
    bump = torch.exp(2 * torch.cos(2 * torch.pi * (t - 3) / L))  # periodic, symmetric about 3
    ys = torch.stack([torch.roll(bump, k) for k in range(L)])
    s = shift_phase(ys)
    expected = torch.remainder(s[0] + torch.arange(L, dtype=torch.float64), L)
    d = torch.remainder(s - expected, L)
    assert torch.minimum(d, L - d).max() < 1e-9
    assert abs(float(s[0]) - 3.0) < 1e-6  # a symmetric bump's phase is its centre


def test_fourier_shift_matches_roll_for_integers(gen):
    x = torch.randn(4, 2, L, generator=gen, dtype=torch.float64)
    k = torch.tensor([0, 1, 7, -3])
    assert torch.allclose(fourier_shift(k.double(), x), roll_signal(k, x), atol=1e-12)


def test_fourier_shift_composes_for_odd_length(gen):
    """A group action of the reals for odd L (for even L the Nyquist term is damped by
    |cos(πs)| at fractional s)."""
    x = torch.randn(3, 1, L + 1, generator=gen, dtype=torch.float64)
    a = torch.tensor([0.3, 1.7, 5.25], dtype=torch.float64)
    b = torch.tensor([2.1, 0.4, -1.0], dtype=torch.float64)
    assert torch.allclose(fourier_shift(a, fourier_shift(b, x)), fourier_shift(a + b, x),
                          atol=1e-12)


def test_pose_head_is_equivariant_under_integer_shifts(gen):
    y = torch.randn(6, L, generator=gen, dtype=torch.float64)
    k = torch.randint(L, (6,), generator=gen)
    s = ShiftPoseHead()(y).element
    sk = ShiftPoseHead()(roll_map(k, y)).element
    d = torch.remainder(sk - s - k, L)
    assert torch.minimum(d, L - d).max() < 1e-9


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.randn(2, L), "channel axis"),
        (torch.randn(2, 2, L), "channel"),
        (torch.randn(2, 1, L + 1), f"length={L + 1}"),
        (torch.randint(0, 5, (2, 1, L)), "floating-point"),
    ],
)
def test_bad_signals_are_rejected_with_the_fix(bad, match):
    with pytest.raises(ValueError, match=match):
        _encoder()(bad)


def test_nan_signals_are_rejected():
    x = torch.randn(2, 1, L, dtype=torch.float64)
    x[0, 0, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        _encoder()(x)


def test_decoder_shape():
    dec = MLPDecoder(latent_dim=5, length=L, hidden=8)
    assert dec(torch.zeros(3, 5)).shape == (3, 1, L)
    with pytest.raises(ValueError, match="codes"):
        dec(torch.zeros(3, 4))
