"""The image and signal GIAEs: pose heads, invariant loss, tiny training runs."""

import math

import pytest
import torch

from quotient.actions import roll_signal, rot90_image, rotate_image
from quotient.models.image_giae import image_giae, signal_giae
from quotient.nn.images import c4_vector_action
from quotient.nn.pose_so2 import SO2PoseHead
from quotient.train import seeded


def _small_image_giae():
    return image_giae(image_size=16, latent_dim=6, widths=(3, 4), decoder_widths=(8, 4))


def test_so2_head_reads_the_angle_of_synthetic_vectors(gen):
    angles = (torch.rand(50, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi * 0.999
    radii = torch.rand(50, generator=gen, dtype=torch.float64) * 3 + 0.1
    v = torch.stack([angles.cos(), angles.sin()], -1) * radii[:, None]
    pose = SO2PoseHead()(v)
    d = torch.remainder(pose.element - angles, 2 * math.pi)
    assert torch.minimum(d, 2 * math.pi - d).max() < 1e-12
    # turning v by a quarter turn turns the angle by π/2
    k = torch.ones(50, dtype=torch.long)
    turned = SO2PoseHead()(c4_vector_action(k, v)).element
    d = torch.remainder(turned - angles - math.pi / 2, 2 * math.pi)
    assert torch.minimum(d, 2 * math.pi - d).max() < 1e-12


def test_so2_head_applies_the_rotation(gen):
    canonical = torch.rand(3, 1, 12, 12, generator=gen, dtype=torch.float64)
    v = torch.tensor([[0.0, 2.0], [-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    out = SO2PoseHead()(v).apply(canonical)
    angles = torch.tensor([math.pi / 2, math.pi, 0.0], dtype=torch.float64)
    assert torch.allclose(out, rotate_image(angles, canonical), atol=1e-12)


def test_so2_head_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-vectors"):
        SO2PoseHead()(torch.zeros(4, 3))


def test_image_pose_is_equivariant_under_quarter_turns(gen):
    model = _small_image_giae().double().eval()
    x = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64)
    theta = model.encode(x)[1].element
    for k in range(1, 4):
        kk = torch.full((6,), k)
        theta_k = model.encode(rot90_image(kk, x))[1].element
        d = torch.remainder(theta_k - theta - k * math.pi / 2, 2 * math.pi)
        assert torch.minimum(d, 2 * math.pi - d).max() < 1e-10


def test_image_loss_is_invariant_under_quarter_turns(gen):
    model = _small_image_giae().double().eval()
    x = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        loss = float(model.loss(x)[0])
        for k in range(1, 4):
            kk = torch.full((6,), k)
            assert abs(float(model.loss(rot90_image(kk, x))[0]) - loss) <= 1e-10 * loss
        # a transformation that is not a symmetry of the model changes the loss
        flipped = float(model.loss(torch.flip(x, dims=(-1,)))[0])
    assert abs(flipped - loss) > 1e-8 * loss


def _bars(n, size, gen):
    """Bright bars through the centre at random angles: one orbit, so a GIAE can fit it."""
    c = (torch.arange(size, dtype=torch.float32) - (size - 1) / 2)
    y, x = torch.meshgrid(c, c, indexing="ij")
    base = (torch.exp(-(y / 1.2) ** 2) * (x.abs() < size / 3)).float()[None, None]
    angles = torch.rand(n, generator=gen) * 2 * math.pi
    return rotate_image(angles, base.expand(n, 1, size, size).contiguous())


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread (and much faster when the cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tiny_image_training_decreases_the_loss(gen, one_thread):
    with seeded(0):  # reproducible weights; the global generator is restored afterwards
        model = _small_image_giae()
    x = _bars(24, 16, gen)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(model.loss(x)[0].detach())
    for _ in range(30):
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # batch statistics, as in training
        assert float(model.loss(x)[0]) < 0.7 * first


def test_signal_loss_is_invariant_and_training_decreases_it(gen, one_thread):
    with seeded(0):
        model = signal_giae(length=20, latent_dim=4, widths=(6, 6), kernel_size=3, hidden=16)
    t = torch.arange(20, dtype=torch.float32)
    base = torch.exp(2 * torch.cos(2 * math.pi * t / 20)) / 7
    shifts = torch.randint(20, (32,), generator=gen)
    x = roll_signal(shifts, base.expand(32, 1, 20).contiguous())
    m64 = signal_giae(length=20, latent_dim=4, widths=(6, 6), kernel_size=3, hidden=16).double()
    x64 = x.double() + 0.1 * torch.randn(32, 1, 20, generator=gen, dtype=torch.float64)
    k = torch.randint(20, (32,), generator=gen)
    with torch.no_grad():
        l0 = float(m64.loss(x64)[0])
        assert abs(float(m64.loss(roll_signal(k, x64))[0]) - l0) <= 1e-10 * l0

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(model.loss(x)[0].detach())
    for _ in range(60):
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.loss(x)[0].detach()) < 0.5 * first
