"""Baselines: the classical AE is not invariant, the equivariant AE's code turns with the image
and its norms are invariant, augmentation goes through the training loss."""

import pytest
import torch

from quotient.actions import rot90_image
from quotient.groups import CyclicGroup
from quotient.models.baselines import random_rotation
from quotient.models.image_giae import image_baseline
from quotient.models.losses import autoencoder_loss
from quotient.testing import assert_equivariant, assert_invariant

C4 = CyclicGroup(4)
TURNS = torch.arange(1, 4)
SMALL = dict(image_size=16, latent_dim=5, widths=(3, 4), cnn_widths=(4, 6),
             decoder_widths=(6, 4))


def _vector_turn(k, v):
    """Quarter turns of every row of a vector code (B, d, 2)."""
    out = v.clone()
    for q in range(1, 4):
        sel = torch.remainder(k, 4) == q
        for _ in range(q):
            out[sel] = torch.stack([-out[sel][..., 1], out[sel][..., 0]], -1)
    return out


def test_equivariant_code_turns_and_its_norms_are_invariant(gen):
    model = image_baseline("equivariant", **SMALL).double().eval()
    x = torch.rand(5, 1, 16, 16, generator=gen, dtype=torch.float64)
    assert_equivariant(model.code, C4, rot90_image, _vector_turn, x, elements=TURNS)
    rep = assert_invariant(model.embed, C4, rot90_image, x, elements=TURNS)
    assert rep.error <= 1e-10
    assert model.reconstruct(x).shape == x.shape


def test_classical_code_is_not_invariant(gen):
    model = image_baseline("classical", **SMALL).double().eval()
    x = torch.rand(5, 1, 16, 16, generator=gen, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_invariant(model.embed, C4, rot90_image, x, elements=TURNS)


class _Ctx:
    def __init__(self, generator):
        self.generator = generator


def test_augmentation_is_applied_by_the_training_loss(gen):
    model = image_baseline("augmented", **SMALL)
    assert model.augment is random_rotation
    x = torch.rand(4, 1, 16, 16, generator=gen)
    model.augment = lambda t, g: torch.zeros_like(t)
    loss, logs = autoencoder_loss(model, {"x": x}, _Ctx(gen))
    with torch.no_grad():
        expected = model.reconstruct(torch.zeros_like(x)).pow(2).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    assert logs["rec"] == pytest.approx(float(expected), rel=1e-6)


def test_random_rotation_uses_the_generator(gen):
    x = torch.rand(3, 1, 16, 16, generator=gen)
    a = random_rotation(x, torch.Generator().manual_seed(5))
    b = random_rotation(x, torch.Generator().manual_seed(5))
    c = random_rotation(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_unknown_baseline_names_the_choices():
    with pytest.raises(ValueError, match="classical"):
        image_baseline("steerable")


def test_baseline_rejects_bad_images():
    model = image_baseline("classical", **SMALL)
    with pytest.raises(ValueError, match="image_size=20"):
        model.reconstruct(torch.rand(2, 1, 20, 20))
