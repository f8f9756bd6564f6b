"""C4 group-CNN blocks: exact quarter-turn equivariance in float64, clear input errors."""

import math

import pytest
import torch

from quotient.actions import rot90_image, rotate_image
from quotient.groups import CyclicGroup
from quotient.nn.image_encoder import C4Encoder, quarter_split
from quotient.nn.images import (
    C4GroupConv,
    C4LiftConv,
    ConvDecoder,
    ConvEncoder,
    c4_downsample,
    c4_regular_action,
    c4_vector_action,
)
from quotient.testing import assert_equivariant, assert_invariant, check_module

C4 = CyclicGroup(4)
TURNS = torch.arange(1, 4)


def _images(gen, n=4, size=12, channels=1):
    return torch.rand(n, channels, size, size, generator=gen, dtype=torch.float64)


def test_lifting_conv_is_equivariant(gen):
    layer = C4LiftConv(2, 3, kernel_size=5).double()
    x = _images(gen, channels=2)
    assert_equivariant(layer, C4, rot90_image, c4_regular_action, x, elements=TURNS)


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_group_conv_is_equivariant(gen, kernel_size):
    layer = C4GroupConv(3, 2, kernel_size=kernel_size).double()
    f = torch.randn(4, 12, 10, 10, generator=gen, dtype=torch.float64)
    assert_equivariant(layer, C4, c4_regular_action, c4_regular_action, f, elements=TURNS)


def test_group_conv_is_not_equivariant_under_plain_turns(gen):
    """The regular action also cycles orientations; turning the maps alone must fail."""
    layer = C4GroupConv(3, 2).double()
    f = torch.randn(4, 12, 10, 10, generator=gen, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_equivariant(layer, C4, rot90_image, rot90_image, f, elements=TURNS)
    with pytest.raises(AssertionError):
        assert_equivariant(layer, C4, c4_regular_action, rot90_image, f, elements=TURNS)


@pytest.mark.parametrize("size", [12, 7])
def test_downsample_is_equivariant(gen, size):
    f = torch.randn(3, 8, size, size, generator=gen, dtype=torch.float64)
    assert_equivariant(c4_downsample, C4, rot90_image, rot90_image, f, elements=TURNS)
    assert c4_downsample(f).shape[-1] == math.ceil(size / 2)


def test_strided_conv_on_even_size_is_not_equivariant(gen):
    """Why c4_downsample exists: a stride-2 3×3 window on an even grid breaks the symmetry."""
    f = torch.randn(3, 2, 12, 12, generator=gen, dtype=torch.float64)

    def strided(t):
        return torch.nn.functional.avg_pool2d(t, 3, stride=2, padding=1)

    with pytest.raises(AssertionError):
        assert_equivariant(strided, C4, rot90_image, rot90_image, f, elements=TURNS)


def _encoder(**kw):
    return C4Encoder(latent_dim=6, widths=(3, 4, 5), image_size=16, hidden=16, **kw).double()


@pytest.mark.parametrize(("norm", "pose", "readout"), [
    (True, "dipole", "canonical"), (False, "profile", "canonical"), (True, "both", "pool")])
def test_encoder_code_is_invariant_float64(gen, norm, pose, readout):
    enc = _encoder(norm=norm, pose=pose, readout=readout).eval()
    x = _images(gen, size=16)
    rep = assert_invariant(enc.encode, C4, rot90_image, x, elements=TURNS)
    assert rep.error <= 1e-10


def test_encoder_declares_its_symmetry(gen):
    enc = _encoder().eval()
    x = _images(gen, size=16)
    rep = check_module(enc, x)  # z invariant and v turning, on all four quarter turns
    assert rep.error <= 1e-10 and rep.described == ("identity", "rotation by 90°",
                                                    "rotation by 180°", "rotation by 270°")


@pytest.mark.parametrize("pose", ["dipole", "profile"])
def test_encoder_pose_vector_is_equivariant_float64(gen, pose):
    enc = _encoder(pose=pose).eval()
    x = _images(gen, size=16)
    rep = assert_equivariant(lambda t: enc(t)[1], C4, rot90_image, c4_vector_action, x,
                             elements=TURNS)
    assert rep.error <= 1e-10


def test_encoder_code_is_invariant_float32(gen):
    enc = C4Encoder(latent_dim=8, widths=(4, 8), image_size=28).eval()
    x = torch.rand(4, 1, 28, 28, generator=gen)
    assert_invariant(enc.encode, C4, rot90_image, x, elements=TURNS, tol=1e-5)


def test_training_mode_batchnorm_keeps_invariance(gen):
    """Batch statistics are pooled over orientations and space, so a quarter turn of the
    whole batch does not change them."""
    enc = _encoder().train()
    x = _images(gen, size=16)
    assert_invariant(enc.encode, C4, rot90_image, x, elements=TURNS)


def test_encoder_is_only_approximately_invariant_off_the_grid(gen):
    """A 45° turn is not exact: the measured error is positive (reported, not asserted small)."""
    enc = _encoder().eval()
    x = _images(gen, size=16)
    angle = torch.full((x.shape[0],), math.pi / 4, dtype=torch.float64)
    z, zr = enc.encode(x), enc.encode(rotate_image(angle, x))
    assert (z - zr).norm() > 1e-6 * z.norm()


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.rand(2, 16, 16), "channel axis"),
        (torch.rand(2, 3, 16, 16), "channel"),
        (torch.rand(2, 1, 16, 12), "square"),
        (torch.rand(2, 1, 20, 20), "image_size=20"),
        (torch.randint(0, 255, (2, 1, 16, 16)), "floating-point"),
    ],
)
def test_bad_images_are_rejected_with_the_fix(bad, match):
    enc = C4Encoder(latent_dim=4, widths=(2, 2), image_size=16)
    with pytest.raises(ValueError, match=match):
        enc(bad)


def test_nan_images_are_rejected():
    enc = C4Encoder(latent_dim=4, widths=(2, 2), image_size=16)
    x = torch.rand(2, 1, 16, 16)
    x[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        enc(x)
    with pytest.raises(ValueError, match="NaN"):
        ConvEncoder(latent_dim=4, widths=(4, 4), image_size=16)(x)


def test_even_kernel_is_refused():
    with pytest.raises(ValueError, match="odd"):
        C4GroupConv(2, 2, kernel_size=4)


def test_decoder_shapes_and_range(gen):
    dec = ConvDecoder(latent_dim=5, widths=(8, 4, 4), image_size=28)
    out = dec(torch.randn(3, 5, generator=gen)).detach()
    assert out.shape == (3, 1, 28, 28)
    assert 0 < float(out.min()) and float(out.max()) < 1
    with pytest.raises(ValueError, match="codes"):
        dec(torch.randn(3, 4))
    with pytest.raises(ValueError, match="divisible"):
        ConvDecoder(latent_dim=5, widths=(8, 4, 4, 4), image_size=28)


def test_quarter_split_reassembles_the_angle_and_is_exact_under_turns(gen):
    v = torch.randn(500, 2, generator=gen, dtype=torch.float64)
    v[:4] = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [0.0, 1.0]])
    k, phi = quarter_split(v)
    assert ((phi >= -math.pi / 4) & (phi < math.pi / 4)).all()
    theta = k.double() * (math.pi / 2) + phi
    d = torch.remainder(theta - torch.atan2(v[:, 1], v[:, 0]), 2 * math.pi)
    assert torch.minimum(d, 2 * math.pi - d).max() < 1e-12
    for q in range(1, 4):
        kq, phiq = quarter_split(c4_vector_action(torch.full((500,), q), v))
        assert torch.equal(torch.remainder(kq - k - q, 4), torch.zeros_like(k))
        assert torch.equal(phiq, phi)  # bit for bit


def test_canonical_readout_is_exact_in_float32(gen):
    """The pose-aligned readout turns by exact quarter turns first, so float32 invariance is
    limited only by the convolutions' rounding."""
    enc = C4Encoder(latent_dim=8, widths=(4, 8), image_size=28, readout="canonical").eval()
    x = torch.rand(6, 1, 28, 28, generator=gen)
    rep = assert_invariant(enc.encode, C4, rot90_image, x, elements=TURNS, tol=1e-5)
    assert rep.error < 1e-5


def test_gate_silences_the_readout_when_the_pose_is_undefined(gen):
    """An input with the symmetry of a square has v = 0: the code must not depend on the
    (arbitrary) pose there, and must vary continuously near it."""
    enc = _encoder().eval().requires_grad_(False)
    x = torch.rand(1, 1, 16, 16, generator=gen, dtype=torch.float64)
    sym = sum(torch.rot90(x, k, dims=(-2, -1)) for k in range(4)) / 4
    fs = enc.stages(sym)
    v, rho = enc.pose_vector(fs)
    assert float(v.norm()) < 1e-12 and float(rho) < 1e-10
    bump = torch.rand(1, 1, 16, 16, generator=gen, dtype=torch.float64)
    ungated = C4Encoder(latent_dim=6, widths=(3, 4, 5), image_size=16, hidden=16,
                        gate=0.0).double().eval().requires_grad_(False)
    ungated.load_state_dict(enc.state_dict())
    jumps = []
    for model in (enc, ungated):
        z0 = model.encode(sym)
        jumps.append(float(max((model.encode(sym + 1e-7 * (-1) ** i * bump) - z0).norm()
                               for i in range(2)) / z0.norm()))
    gated_jump, ungated_jump = jumps
    assert ungated_jump > 0
    assert gated_jump < 1e-6 and gated_jump < 1e-2 * ungated_jump


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="pose"):
        C4Encoder(pose="sideways")
    with pytest.raises(ValueError, match="readout"):
        C4Encoder(readout="flat")
    with pytest.raises(ValueError, match="image_size"):
        C4Encoder(image_size=None)


def test_group_conv_weights_start_within_one_over_root_fan_in():
    torch.manual_seed(0)
    conv = C4GroupConv(3, 8, kernel_size=5)
    bound = 1.0 / math.sqrt(4 * 3 * 5 * 5)
    w = conv.weight.detach()
    assert float(w.abs().max()) <= bound
    assert float(w.abs().max()) > 0.9 * bound  # uniform on the whole interval (2400 draws)


def test_pixel_directions_are_unit_vectors_over_n_squared():
    from quotient.nn.image_encoder import _directions

    d = _directions(3, torch.float64, torch.device("cpu"))
    norms = d.norm(dim=-1)
    assert float(norms[1, 1]) == 0.0  # the centre pixel of an odd grid
    off = torch.ones(3, 3, dtype=torch.bool)
    off[1, 1] = False
    assert torch.allclose(norms[off], torch.full((8,), 1.0 / 9, dtype=torch.float64), atol=1e-15)
    s = 1.0 / (9 * math.sqrt(2.0))  # the top-left pixel points up and left
    assert torch.allclose(d[0, 0], torch.tensor([-s, s], dtype=torch.float64), atol=1e-15)


@pytest.mark.parametrize("train", [False, True])
def test_refined_encoder_is_exact_under_quarter_turns_float64(gen, train):
    """refine=1 turns the input back by a first estimate before encoding it; quarter turns
    shift that estimate by exactly one turn, so z stays invariant and v turns exactly."""
    enc = _encoder(refine=1)
    enc.train(train)
    x = _images(gen, size=16)
    rep = check_module(enc, x)
    assert rep.error <= 1e-10


def test_refined_pose_cancels_the_first_estimates_error(gen):
    """At angles between quarter turns the second pass corrects the first estimate: the angle
    of a turned image follows the turn more closely, and so does z (same weights)."""
    torch.manual_seed(0)
    plain = C4Encoder(latent_dim=8, widths=(4, 8, 8), image_size=28).double().eval()
    refined = C4Encoder(latent_dim=8, widths=(4, 8, 8), image_size=28, refine=1).double().eval()
    refined.load_state_dict(plain.state_dict())
    # smooth blobs, not noise: images whose turned copies are close to resampling
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.rand(16, 3, 2, generator=gen, dtype=torch.float64) * 10 + 9
    x = sum(torch.exp(-((yy - centres[:, k, 0, None, None]) ** 2
                        + (xx - centres[:, k, 1, None, None]) ** 2) / 6.0)
            for k in range(3))[:, None].double()
    angle = torch.rand(16, generator=gen, dtype=torch.float64) * 2 * math.pi
    turned = rotate_image(angle, x)
    errors = []
    for enc in (plain, refined):
        with torch.no_grad():
            (z, v), (zt, vt) = enc(x), enc(turned)
        diff = torch.atan2(vt[:, 1], vt[:, 0]) - torch.atan2(v[:, 1], v[:, 0]) - angle
        errors.append((torch.remainder(diff + math.pi, 2 * math.pi) - math.pi).abs().mean())
        errors.append((zt - z).norm(dim=1).mean() / (z - z.mean(0)).norm(dim=1).mean())
    (angle_plain, z_plain), (angle_refined, z_refined) = errors[:2], errors[2:]
    assert angle_refined < angle_plain and z_refined < 0.5 * z_plain


def test_refine_setting_is_checked():
    with pytest.raises(ValueError, match="refine must be 0"):
        C4Encoder(refine=2)


def test_turn_2d_is_the_rotation_matrix_and_matches_exact_quarter_turns(gen):
    from quotient.nn.image_encoder import turn_2d

    theta = torch.rand(6, generator=gen, dtype=torch.float64) * 6.28
    v = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    c, s = theta.cos(), theta.sin()
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    torch.testing.assert_close(turn_2d(theta, v), (rot @ v[..., None])[..., 0], atol=1e-15, rtol=0)
    k = torch.randint(0, 4, (6,), generator=gen)
    torch.testing.assert_close(turn_2d(k.double() * math.pi / 2, v), c4_vector_action(k, v),
                               atol=1e-15, rtol=0)
