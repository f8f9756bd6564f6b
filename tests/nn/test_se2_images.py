"""SE(2) on images: the C4 ⋉ ℤ² group, the torus centroid, the crop, the placement, the encoder,
the pose head and the GIAE — every layer exact in float64 under all quarter turns × integer
shifts, and clear errors for inputs that cannot work."""

from __future__ import annotations

import math

import pytest
import torch

from quotient.actions import disc_mask, roll_image, rot90_image, rotate_image
from quotient.data.se2_mnist import image_centroids, load_se2_mnist_sample, make_se2_mnist
from quotient.errors import DataError
from quotient.groups.turns_shifts import QuarterTurnsShifts2d, turn_shift_vector
from quotient.models.se2_giae import se2_image_giae
from quotient.nn.pose_so2 import angle_vector
from quotient.nn.se2_images import (
    SE2CropEncoder,
    SE2PoseHead,
    place_image,
    position_vector,
    torus_centroid,
    torus_crop,
    torus_distance,
    turn_shift_image,
    turn_shift_position,
)
from quotient.testing import check_module
from quotient.train import seeded

TOL = 1e-10
L = 40
SHIFTS = [(0, 0), (3, -2), (-5, 4), (1, 6), (-4, -6)]  # all keep the test digits on the canvas


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """Eight SE(2) MNIST test digits, float64, placed away from the border (offsets 6) so that
    every shift in ``SHIFTS`` keeps them on the canvas."""
    data = load_se2_mnist_sample(n_train=0, n_test=8)
    from quotient.data.se2_mnist import paste_images

    crops = torch.stack([torus_crop(x[None], torch.tensor([[int(p[0]), int(p[1])]]), 27)[0]
                         for x, p in zip(data.test.images, data.test.positions.round(),
                                         strict=True)])
    return paste_images(crops.double(), torch.full((8, 2), 6), L)


def _elements(b: int) -> list[torch.Tensor]:
    return [torch.tensor([[k, dy, dx]] * b) for k in range(4) for dy, dx in SHIFTS]


def _translate(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Quarter turn, then a zero-filling translation (not a roll)."""
    turned = rot90_image(g[:, 0], x)
    out = torch.zeros_like(turned)
    for i, (dy, dx) in enumerate(g[:, 1:].tolist()):
        src = turned[i, :, max(0, -dy):L - max(0, dy), max(0, -dx):L - max(0, dx)]
        y0, x0 = max(0, dy), max(0, dx)
        out[i, :, y0:y0 + src.shape[-2], x0:x0 + src.shape[-1]] = src
    return out


# --------------------------------------------------------------------------- the group
def test_the_group_composes_as_its_action_on_images():
    group = QuarterTurnsShifts2d(5)
    assert group.order == 100 and group.name == "C4⋉Z5xZ5"
    x = torch.randn(6, 1, 5, 5, dtype=torch.float64, generator=_gen())
    g, h = group.sample(6, generator=_gen(1)), group.sample(6, generator=_gen(2))
    assert torch.equal(turn_shift_image(g, turn_shift_image(h, x)),
                       turn_shift_image(group.compose(g, h), x))
    assert torch.equal(turn_shift_image(group.inverse(g), turn_shift_image(g, x)), x)
    every = group.elements()
    assert torch.equal(group.index(every), torch.arange(100))
    # the standard representation is the action on one-channel images, pixel by pixel
    rep = group.representation(g)
    flat = (rep @ x.reshape(6, 25, 1)).reshape(6, 1, 5, 5)
    assert torch.equal(flat, turn_shift_image(g, x))
    assert turn_shift_image.accepts(group) and not turn_shift_image.accepts(
        __import__("quotient.groups", fromlist=["CyclicGroup"]).CyclicGroup(4))
    assert torch.equal(turn_shift_vector(torch.tensor([1]), torch.tensor([[2, 3]])),
                       torch.tensor([[-3, 2]]))
    assert "90° turn" in group.describe(torch.tensor([[1, 2, 3]]))[0]


def test_positions_move_like_the_pixels_they_mark():
    group = QuarterTurnsShifts2d(L)
    g = group.sample(20, generator=_gen(3))
    p = torch.randint(0, L, (20, 2))
    x = torch.zeros(20, 1, L, L, dtype=torch.float64)
    x[torch.arange(20), 0, p[:, 0], p[:, 1]] = 1.0
    moved = turn_shift_image(g, x)[:, 0]
    where = torch.stack([torch.tensor(divmod(int(m.argmax()), L)) for m in moved])
    assert torch.equal(turn_shift_position(g, p.double(), L), where.double())


# --------------------------------------------------------------------------- translation
def test_the_torus_centroid_is_exactly_shift_equivariant():
    x = torch.rand(16, 2, L, L, dtype=torch.float64, generator=_gen(4))
    t, r = torus_centroid(x)
    group = QuarterTurnsShifts2d(L)
    for g in _elements(16):
        t2, r2 = torus_centroid(turn_shift_image(g, x))
        assert torch.equal(r2, turn_shift_position(g, r.double(), L).round().long())
        assert torus_distance(t2, turn_shift_position(g, t, L), L).max() <= 1e-12
    shifts = group.sample(16, generator=_gen(5))
    shifts[:, 0] = 0
    t2, r2 = torus_centroid(turn_shift_image(shifts, x))
    # a pure shift moves the pixel bit for bit and the position by one rounding at most
    assert torch.equal(r2, torch.remainder(r + shifts[:, 1:], L))


def test_on_a_zero_background_the_position_is_the_intensity_centroid(digits):
    t, _ = torus_centroid(digits)
    assert torch.allclose(t, image_centroids(digits), atol=1e-12)
    data = load_se2_mnist_sample(n_train=0, n_test=200)
    t, _ = torus_centroid(data.test.images.double())
    err = torus_distance(t, data.test.centroids, L)
    assert err.max() <= 0.5  # acceptance: translation recovered to half a pixel
    assert err.mean() < 0.05


def test_the_crop_moves_with_the_window_bit_for_bit():
    x = torch.randn(4, 3, L, L, dtype=torch.float64, generator=_gen(6))
    r = torch.tensor([[0, 39], [20, 3], [39, 0], [7, 7]])
    crop = torus_crop(x, r, 9)
    assert crop.shape == (4, 3, 9, 9)
    assert torch.equal(crop[2, :, 4, 4], x[2, :, 39, 0])
    assert torch.equal(crop[0, :, 4, 5], x[0, :, 0, 0])  # wraps around the torus
    for g in _elements(4):
        moved = torus_crop(turn_shift_image(g, x), turn_shift_position(g, r.double(), L).long(),
                           9)
        assert torch.equal(moved, rot90_image(g[:, 0], crop))
    with pytest.raises(ValueError, match="size must be odd"):
        torus_crop(x, r, 8)


def test_placement_matches_rotate_image_and_moves_with_its_position():
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64, generator=_gen(7))
    centre = torch.full((3, 2), 13.5, dtype=torch.float64)
    disc = disc_mask(28, 28, dtype=torch.float64)
    for angle in (0.0, 0.3, -2.0, math.pi / 2):
        theta = torch.full((3,), angle, dtype=torch.float64)
        placed = place_image(theta, centre, x, 28)
        assert torch.allclose(placed * disc, rotate_image(theta, x * disc), atol=1e-12)
    theta = torch.tensor([0.1, 1.0, 4.0], dtype=torch.float64)
    t = torch.tensor([[15.3, 20.0], [19.5, 19.5], [25.0, 14.2]], dtype=torch.float64)
    canvas = place_image(theta, t, x, L)
    s = torch.tensor([[2, -3], [-1, 4], [0, 5]])
    assert torch.allclose(place_image(theta, t + s, x, L), roll_image(s, canvas), atol=1e-12)
    with pytest.raises(ValueError, match="must be square"):
        place_image(theta, t, x[..., :27], L)


# --------------------------------------------------------------------------- modules
def _model():
    with seeded(0):
        return se2_image_giae(canvas=L, crop_size=29, latent_dim=6, widths=(4, 4),
                              decoder_widths=(8, 8, 8)).double().eval()


def test_the_code_is_invariant_under_every_quarter_turn_and_on_canvas_translation(digits):
    model = _model()
    with torch.no_grad():
        z = model.embed(digits)
        t = model.encoder.locate(digits)[0]
        out = model(digits)
        for g in _elements(digits.shape[0]):
            moved = _translate(g, digits)  # an ordinary translation: zeros come in
            assert torch.equal(moved, turn_shift_image(g, digits))  # = the cyclic shift here
            z2 = model.embed(moved)
            assert ((z2 - z).norm(dim=1) / z.norm(dim=1)).max() <= TOL
            got = model.encoder.locate(moved)[0]
            assert torus_distance(got, turn_shift_position(g, t, L), L).max() <= TOL
            out2 = model(moved)
            rec = turn_shift_image(g, out.reconstruction)
            assert ((out2.reconstruction - rec).norm() / rec.norm()) <= TOL
            want = out.pose.element[:, 0] + g[:, 0].double() * (math.pi / 2)
            assert (angle_vector(out2.pose.element[:, 0]) - angle_vector(want)).abs().max() \
                <= TOL


@pytest.mark.parametrize("part", ["encoder", "pose_head", "model"])
def test_every_new_module_passes_the_checker_in_float64(part, digits):
    model = _model()
    x = torch.randn(4, 1, L, L, dtype=torch.float64, generator=_gen(8))
    module = {"encoder": model.encoder, "pose_head": model.pose_head, "model": model}[part]
    inputs = model.encoder(x)[1] if part == "pose_head" else x
    report = check_module(module, inputs, generator=_gen(9))
    assert report.error <= TOL
    if part != "pose_head":  # and on digits, for which the cyclic shifts are translations
        assert check_module(module, digits, generator=_gen(10)).error <= TOL


def test_a_module_without_the_translation_handling_fails_the_checker(digits):
    model = _model()

    class FixedWindow(SE2CropEncoder):
        """Reads the window at the canvas centre: exact under quarter turns only."""

        def forward(self, x):
            t, _ = torus_centroid(x)
            centre = torch.full_like(t, (L - 1) // 2).long()
            crop = torus_crop(x, centre, self.crop_size)
            z, v = self.inner(crop)
            return z, (v, t)

    broken = FixedWindow(L, 29, inner=model.encoder.inner).double().eval()
    with pytest.raises(AssertionError, match="not equivariant under C4⋉Z40xZ40"):
        check_module(broken, digits, generator=_gen(11))


def test_observed_poses_and_positions():
    head = SE2PoseHead(L)
    v = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    t = torch.tensor([[3.0, 4.0], [39.5, 0.25]], dtype=torch.float64)
    pose = head((v, t))
    assert torch.allclose(pose.element[:, 0], torch.tensor([0.0, math.pi / 2],
                                                           dtype=torch.float64))
    assert torch.equal(pose.element[:, 1:], t)
    e = head.observe(pose)
    assert e.shape == (2, 6) and torch.allclose(e[:, 2:], position_vector(t, L))
    assert torus_distance(torch.tensor([[0.5, 0.0]]), torch.tensor([[39.5, 0.0]]), L).item() \
        == pytest.approx(1.0)


# --------------------------------------------------------------------------- bad input
def test_clear_errors_for_inputs_that_cannot_work():
    images = torch.rand(20, 28, 28)
    labels = torch.arange(20) % 10
    with pytest.raises(DataError, match="canvas 20 is smaller than the 28x28 digits"):
        make_se2_mnist(images, labels, canvas=20, n_train=10, n_test=10)
    with pytest.raises(DataError, match="must be square"):
        make_se2_mnist(torch.rand(20, 28, 30), labels, canvas=40, n_train=10, n_test=10)
    from quotient.data.se2_mnist import paste_images

    with pytest.raises(DataError, match="keep every 28x28 image on the 40x40 canvas"):
        paste_images(images[:2, None], torch.tensor([[0, 0], [13, 0]]), 40)
    with pytest.raises(ValueError, match="crop_size must be odd"):
        SE2CropEncoder(40, 28)
    with pytest.raises(ValueError, match="exceeds the canvas"):
        SE2CropEncoder(21, 29)
    with pytest.raises(ValueError, match="needs a canvas of at least 32"):
        se2_image_giae(canvas=30, canonical_size=28)
    model = _model()
    with pytest.raises(ValueError, match="square images"):
        model.embed(torch.rand(2, 1, 40, 38, dtype=torch.float64))
    with pytest.raises(ValueError, match="built for 40x40 images"):
        model.embed(torch.rand(2, 1, 28, 28, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expected \(v \(batch, 2\), t \(batch, 2\)\)"):
        SE2PoseHead(L)((torch.zeros(2, 2), torch.zeros(2, 3)))


def test_the_data_keeps_digits_on_the_canvas_and_reuses_the_rotated_split():
    from quotient.data.rotated_mnist import load_rotated_mnist_sample

    data = load_se2_mnist_sample(n_train=50, n_test=30, canvas=50)
    rot = load_rotated_mnist_sample(n_train=50, n_test=30)
    assert data.train.images.shape == (50, 1, 50, 50) and data.canvas == 50
    assert torch.equal(data.test.source_index, rot.test.source_index)
    assert torch.equal(data.test.angles, rot.test.angles)
    assert (data.train.offsets >= 0).all() and (data.train.offsets <= 22).all()
    # the pasted frame holds the rotated digit unchanged
    i, (oy, ox) = 3, data.test.offsets[3].tolist()
    assert torch.equal(data.test.images[i, :, oy:oy + 28, ox:ox + 28], rot.test.images[i])
    assert data.test.images.sum() == pytest.approx(rot.test.images.sum().item(), rel=1e-6)
    again = load_se2_mnist_sample(n_train=50, n_test=30, canvas=50)
    assert torch.equal(again.train.images, data.train.images)
