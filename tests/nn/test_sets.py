"""Permutation-equivariant set blocks: equivariance in float64, masking, errors, a tiny GIAE."""

import pytest
import torch

from quotient.actions import permute_set
from quotient.groups import SymmetricGroup
from quotient.models import GIAE
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.sets import (
    DeepSetsLayer,
    SetAttentionLayer,
    SetDecoder,
    SetEncoder,
    check_set,
    masked_pool,
)
from quotient.testing import assert_equivariant, assert_invariant, check_module

N = 7


def _x(gen, b=6, n=N, d=5):
    return torch.randn(b, n, d, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("layer", [
    lambda: DeepSetsLayer(5, 8, pool="mean", n=N),
    lambda: DeepSetsLayer(5, 8, pool="max", n=N),
    lambda: SetAttentionLayer(5, heads=1, n=N),
])
def test_layers_are_permutation_equivariant(gen, layer):
    module = layer().double()
    check_module(module, _x(gen), generator=gen)


@pytest.mark.parametrize("kind", ["deepsets", "attention"])
def test_encoder_code_is_invariant_and_scores_equivariant(gen, kind):
    enc = SetEncoder(5, 4, hidden=8, layers=2, kind=kind, heads=2, n=N).double()
    x = _x(gen)
    assert_invariant(lambda v: enc(v)[0], SymmetricGroup(N), permute_set, x, generator=gen)
    assert_equivariant(lambda v: enc(v)[1].scores, SymmetricGroup(N), permute_set, permute_set,
                       x, generator=gen)


def test_an_order_dependent_encoder_fails_the_check(gen):
    enc = SetEncoder(5, 4, hidden=8, n=N).double()
    position = torch.linspace(0, 1, N, dtype=torch.float64)[None, :, None]
    with pytest.raises(AssertionError, match="not invariant under S7"):
        assert_invariant(lambda v: enc(v + position)[0], SymmetricGroup(N), permute_set,
                         _x(gen), generator=gen)


@pytest.mark.parametrize("kind", ["deepsets", "attention"])
def test_padding_never_changes_the_code(gen, kind):
    enc = SetEncoder(5, 4, hidden=8, layers=2, kind=kind, heads=2).double()
    x = _x(gen, b=3, n=4)
    z, feats = enc(x)
    padded = torch.cat([x, 1e3 * torch.randn(3, 3, 5, generator=gen, dtype=torch.float64)], 1)
    mask = torch.tensor([True] * 4 + [False] * 3).expand(3, -1)
    zp, feats_p = enc((padded, mask))
    assert torch.allclose(z, zp, atol=1e-12)
    assert torch.allclose(feats.scores, feats_p.scores[:, :4], atol=1e-12)
    assert torch.equal(feats_p.h[:, 4:], torch.zeros_like(feats_p.h[:, 4:]))
    # shuffle real and padded elements together: still the same code
    sigma = SymmetricGroup(7).sample(3, generator=gen)
    zs, _ = enc((permute_set(sigma, padded), permute_set(sigma, mask)))
    assert torch.allclose(z, zs, atol=1e-12)


def test_masked_pool(gen):
    h = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]).bool()
    assert torch.allclose(masked_pool(h, mask, "sum")[0], h[0, :2].sum(0))
    assert torch.allclose(masked_pool(h, mask, "mean")[0], h[0, :2].mean(0))
    assert torch.allclose(masked_pool(h, mask, "max")[0], h[0, :2].amax(0))
    with pytest.raises(ValueError, match="pool"):
        masked_pool(h, mask, "median")  # type: ignore[arg-type]


@pytest.mark.parametrize(("x", "mask", "message"), [
    (torch.zeros(4, 5), None, "shape"),
    (torch.zeros(2, 0, 5), None, "empty"),
    (torch.tensor([[[0.0, float("nan"), 1.0, 0.0, 0.0]]]), None, "NaN"),
    (torch.zeros(2, 3, 5), torch.tensor([[1, 1, 0], [0, 0, 0]]).bool(), "no real element"),
    (torch.zeros(2, 3, 5), torch.ones(2, 4).bool(), "mask"),
    (torch.zeros(2, 3, 4), None, "5 features"),
    (torch.zeros(2, 3, 5, dtype=torch.long), None, "floating"),
])
def test_bad_sets_raise_clear_errors(x, mask, message):
    with pytest.raises(ValueError, match=message):
        check_set(x, mask, dim=5)
    if x.dim() == 3 and x.shape[-1] == 5 and x.is_floating_point():
        with pytest.raises(ValueError, match=message):
            SetEncoder(5, 2)((x, mask) if mask is not None else x)


def test_nan_at_padded_elements_is_allowed():
    x = torch.zeros(1, 3, 2)
    x[0, 2] = float("nan")
    assert check_set(x, torch.tensor([[True, True, False]])).sum() == 2


@pytest.mark.parametrize("kind", ["mlp", "query"])
def test_decoder_shapes(gen, kind):
    dec = SetDecoder(4, 6, 3, hidden=16, kind=kind, output="softmax")
    out = dec(torch.randn(5, 4, generator=gen))
    assert out.shape == (5, 6, 3)
    assert torch.allclose(out.sum(-1), torch.ones(5, 6))
    with pytest.raises(ValueError, match="kind"):
        SetDecoder(4, 6, 3, kind="conv")  # type: ignore[arg-type]


def _nll(rec, x):
    return -(x * torch.log(rec.clamp_min(1e-9))).sum(-1).mean()


def test_tiny_digit_set_giae_learns(gen):
    digits = torch.randint(4, (64, 6), generator=gen)
    x = torch.nn.functional.one_hot(digits, 4).float()
    model = GIAE(SetEncoder(4, 8, hidden=16), PermutationPose(mode="straight_through"),
                 SetDecoder(8, 6, 4, hidden=32, output="softmax"), reconstruction_loss=_nll)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.loss(x)[0].item()
    for _ in range(25):
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(x)[1]["rec"] < 0.5 * first
    # a shuffled multiset has the same code and the same canonical set; equal elements may
    # trade canonical slots (the stabiliser), so compare reconstructions as multisets
    model.eval()
    sigma = SymmetricGroup(6).sample(64, generator=gen)
    out, out_s = model(x), model(permute_set(sigma, x))
    assert torch.allclose(out.z, out_s.z, atol=1e-5)
    assert torch.allclose(out.canonical, out_s.canonical, atol=1e-5)
    pred, pred_s = out.reconstruction.argmax(-1), out_s.reconstruction.argmax(-1)
    assert torch.equal(pred.sort(dim=1).values, pred_s.sort(dim=1).values)


def test_check_mask_ignores_padding_and_names_the_element():
    from quotient.nn.sets import check_mask

    x = torch.tensor([[[1.0, 2.0], [float("nan"), 0.0]]])
    mask = torch.tensor([[True, False]])
    assert check_mask(x, mask, "enc").tolist() == [[True, False]]  # NaN only in padding
    with pytest.raises(ValueError, match="enc: input contains NaN or infinite values at real "
                                         "points"):
        check_mask(x, None, "enc", element="point", group="point cloud")
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, n_points\)"):
        check_mask(x, torch.ones(1, 3, dtype=torch.bool), "enc", element="point")


def test_an_empty_set_in_a_padded_batch_is_named_a_set():
    x = torch.zeros(2, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False]])
    with pytest.raises(ValueError) as info:
        check_set(x, mask)
    assert str(info.value) == ("set: a set in the batch has no real element (mask all False); "
                               "drop empty sets before encoding")
