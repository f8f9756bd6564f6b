"""A downstream model behind the learned canonicaliser is exactly invariant (or equivariant) on
the canonicaliser's exact group, whatever the downstream model is."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quotient.actions import permute_set, rot90_image
from quotient.groups import CyclicGroup, SymmetricGroup
from quotient.models import GIAE, Canonicalized
from quotient.models.image_giae import image_giae
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.sets import SetDecoder, SetEncoder
from quotient.testing import assert_equivariant, assert_invariant, check_module
from quotient.train import seeded


def _images(n=4, seed=0):
    return torch.rand(n, 1, 12, 12, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(seed))


def _giae():
    with seeded(0):
        return image_giae(image_size=12, latent_dim=3, widths=(2, 2),
                          decoder_widths=(4, 4, 4)).double().eval()


def _cnn():
    with seeded(1):  # a plain classifier: not invariant on its own
        return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(3 * 10 * 10, 5)).double()


def test_a_plain_classifier_behind_the_canonicaliser_is_invariant_under_quarter_turns():
    x = _images()
    with pytest.raises(AssertionError, match="not invariant under C4"):
        assert_invariant(_cnn(), CyclicGroup(4), rot90_image, x)
    wrapped = Canonicalized(_giae(), _cnn())
    report = assert_invariant(wrapped, CyclicGroup(4), rot90_image, x)
    assert report.error <= 1e-10
    assert check_module(wrapped, x).error <= 1e-10  # it declares what it promises


def test_outputs_like_the_input_are_put_back_equivariantly():
    denoise = nn.Conv2d(1, 1, 3, padding=1).double()
    wrapped = Canonicalized(_giae(), denoise, output="same")
    assert_equivariant(wrapped, CyclicGroup(4), rot90_image, rot90_image, _images())


def test_sets_canonicalised_by_sorting():
    with seeded(0):
        model = GIAE(SetEncoder(2, 3, hidden=8), PermutationPose(),
                     SetDecoder(3, 5, 2, hidden=8)).double().eval()
    head = nn.Sequential(nn.Flatten(), nn.Linear(10, 2)).double()  # order-dependent on its own
    x = torch.randn(6, 5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert_invariant(Canonicalized(model, head), SymmetricGroup(5), permute_set, x)


def test_the_canonicaliser_stays_frozen_while_the_head_trains():
    giae, cnn = _giae(), _cnn()
    wrapped = Canonicalized(giae, cnn).train()
    assert not giae.training and all(not p.requires_grad for p in giae.parameters())
    wrapped(_images()).sum().backward()
    assert all(p.grad is not None for p in cnn.parameters())
    with pytest.raises(TypeError, match="has no canonicalize"):
        Canonicalized(cnn, cnn)
    with pytest.raises(ValueError, match="output must be"):
        Canonicalized(giae, cnn, output="sideways")
