"""SoftSort, hard permutations, the entropy penalty and masking of the S_n pose head."""

import pytest
import torch

from quotient.actions import permute_graph, permute_set
from quotient.groups import SymmetricGroup, permutation_matrix
from quotient.nn.pose_perm import (
    PermutationPose,
    hard_sort,
    permutation_entropy,
    sinkhorn,
    soft_sort,
    sort_rows,
    unsort_graph,
    unsort_rows,
)


def test_hard_sort_sorts_by_decreasing_score(gen):
    s = torch.randn(6, 7, generator=gen, dtype=torch.float64)
    order = hard_sort(s)
    assert torch.equal(order, torch.argsort(s, dim=1, descending=True))
    sorted_s = s.gather(1, order)
    assert (sorted_s[:, :-1] >= sorted_s[:, 1:]).all()


def test_order_is_the_pose_element(gen):
    """x = order · canonical, with the group's action and permutation matrix conventions."""
    x = torch.randn(5, 6, 3, generator=gen, dtype=torch.float64)
    s = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    _, order = soft_sort(s)
    hard = torch.zeros(5, 6, 6, dtype=torch.float64).scatter_(2, order[:, :, None], 1.0)
    canonical = sort_rows(hard, x)
    assert torch.equal(canonical, x.gather(1, order[:, :, None].expand(-1, -1, 3)))
    assert torch.equal(permute_set(order, canonical), x)
    assert torch.equal(unsort_rows(hard, canonical), x)
    assert torch.equal(hard.transpose(1, 2), permutation_matrix(order))


def test_hard_permutation_is_equivariant_and_recovers_input_order(gen):
    group = SymmetricGroup(8)
    s = torch.randn(16, 8, generator=gen, dtype=torch.float64)
    x = torch.randn(16, 8, 2, generator=gen, dtype=torch.float64)
    sigma = group.sample(16, generator=gen)
    order, order_shuffled = hard_sort(s), hard_sort(permute_set(sigma, s))
    assert torch.equal(order_shuffled, group.compose(sigma, order))
    # canonicalising a shuffled input gives the same canonical set, exactly
    canon = x.gather(1, order[..., None].expand(-1, -1, 2))
    xs = permute_set(sigma, x)
    canon_s = xs.gather(1, order_shuffled[..., None].expand(-1, -1, 2))
    assert torch.equal(canon, canon_s)


def test_ties_are_deterministic_and_harmless_for_equal_elements(gen):
    """Repeated elements tie exactly; the stable sort keeps input order, no noise is added, and
    the reconstruction of a shuffled multiset is the shuffled reconstruction."""
    digits = torch.randint(3, (10, 9), generator=gen)
    x = torch.nn.functional.one_hot(digits, 3).double()
    head = PermutationPose().eval()
    scores = x @ torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    first, second = head(scores), head(scores)
    assert torch.equal(first.element, second.element)
    canonical = sort_rows(first.matrix, x)
    sigma = SymmetricGroup(9).sample(10, generator=gen)
    shuffled = head(permute_set(sigma, scores))
    assert torch.equal(sort_rows(shuffled.matrix, permute_set(sigma, x)), canonical)
    assert torch.equal(shuffled.apply(canonical), permute_set(sigma, first.apply(canonical)))


def test_soft_sort_is_row_stochastic_and_tends_to_the_hard_sort(gen):
    s = torch.randn(4, 6, generator=gen, dtype=torch.float64) * 3
    relaxed, order = soft_sort(s, tau=1.0)
    assert torch.allclose(relaxed.sum(-1), torch.ones(4, 6, dtype=torch.float64))
    hard = torch.zeros_like(relaxed).scatter_(2, order[:, :, None], 1.0)
    assert (relaxed - hard).abs().max() > 1e-3
    sharp, _ = soft_sort(s, tau=1e-4)
    assert (sharp - hard).abs().max() < 1e-8
    with pytest.raises(ValueError, match="tau"):
        soft_sort(s, tau=0.0)


def test_soft_sort_is_equivariant_in_its_columns(gen):
    s = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    sigma = SymmetricGroup(5).sample(3, generator=gen)
    relaxed, _ = soft_sort(s)
    relaxed_s, _ = soft_sort(permute_set(sigma, s))
    # columns follow the elements, rows (canonical slots) do not move
    moved = permute_set(sigma, relaxed.transpose(1, 2)).transpose(1, 2)
    assert torch.allclose(relaxed_s, moved, atol=1e-14)


@pytest.mark.parametrize("mode", ["soft", "straight_through", "hard"])
def test_modes_forward_and_gradient(gen, mode):
    s = torch.randn(4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.randn(4, 5, 2, generator=gen, dtype=torch.float64)
    head = PermutationPose(mode=mode).train()
    pose = head(s)
    hard = torch.zeros(4, 5, 5, dtype=torch.float64).scatter_(2, pose.element[:, :, None], 1.0)
    if mode == "soft":
        assert not torch.allclose(pose.matrix, hard)
    else:
        assert torch.allclose(pose.matrix, hard)
    canonical = torch.randn(4, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    rec = pose.apply(canonical)
    ((rec - target) ** 2).sum().backward()
    grad = s.grad
    if mode == "hard":
        assert grad is None or torch.count_nonzero(grad) == 0
    else:
        assert grad is not None and grad.abs().sum() > 0


def test_eval_uses_exact_permutation():
    s = torch.tensor([[0.1, 0.3, 0.2]], dtype=torch.float64)
    head = PermutationPose(mode="soft").eval()
    matrix = head(s).matrix
    assert torch.equal(matrix, torch.tensor([[[0.0, 1, 0], [0, 0, 1], [1, 0, 0]]],
                                            dtype=torch.float64))


def test_entropy_is_zero_for_permutations_and_maximal_for_uniform():
    n = 5
    perm = torch.eye(n, dtype=torch.float64)[torch.tensor([2, 0, 4, 1, 3])][None]
    assert float(permutation_entropy(perm)) == pytest.approx(0.0, abs=1e-9)
    uniform = torch.full((1, n, n), 1.0 / n, dtype=torch.float64)
    assert float(permutation_entropy(uniform)) == pytest.approx(2 * torch.log(torch.tensor(5.0)))


def test_sinkhorn_is_doubly_stochastic(gen):
    relaxed, _ = soft_sort(torch.randn(3, 6, generator=gen, dtype=torch.float64))
    ds = sinkhorn(relaxed, 50)
    ones = torch.ones(3, 6, dtype=torch.float64)
    assert torch.allclose(ds.sum(1), ones, atol=1e-6)
    assert torch.allclose(ds.sum(2), ones, atol=1e-12)
    head = PermutationPose(sinkhorn_iters=20).train()
    assert torch.allclose(head(torch.randn(2, 4, generator=gen)).matrix.sum(1),
                          torch.ones(2, 4), atol=1e-3)


def test_padding_goes_last_and_never_mixes(gen):
    s = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1], [0, 0, 1, 0, 0, 0]]).bool()
    relaxed, order = soft_sort(s, mask=mask)
    for b in range(3):
        k = int(mask[b].sum())
        assert mask[b, order[b, :k]].all() and not mask[b, order[b, k:]].any()
        assert torch.equal(order[b, k:], torch.nonzero(~mask[b])[:, 0])
        real = relaxed[b, :k][:, ~mask[b]]
        assert real.abs().max() == 0 if real.numel() else True
        pad = relaxed[b, k:][:, mask[b]]
        assert pad.abs().max() == 0 if pad.numel() else True
    # padded values of the scores do not matter
    s2 = s.masked_fill(~mask, 1e3)
    assert torch.equal(soft_sort(s2, mask=mask)[1], order)
    assert torch.allclose(soft_sort(s2, mask=mask)[0], relaxed)
    assert torch.isfinite(permutation_entropy(relaxed, mask))


def test_unsort_graph_matches_the_graph_action(gen):
    a = (torch.rand(4, 6, 6, generator=gen) > 0.5).double()
    a = torch.triu(a, 1)
    a = a + a.transpose(1, 2)
    _, order = soft_sort(torch.randn(4, 6, generator=gen, dtype=torch.float64))
    hard = torch.zeros(4, 6, 6, dtype=torch.float64).scatter_(2, order[:, :, None], 1.0)
    canonical = hard @ a @ hard.transpose(1, 2)
    assert torch.equal(unsort_graph(hard, canonical), a)
    assert torch.equal(permute_graph(order, canonical), a)


@pytest.mark.parametrize(("scores", "message"), [
    (torch.zeros(3), "shape"),
    (torch.tensor([[0.0, float("nan")]]), "NaN"),
    (torch.zeros(2, 0), "empty"),
])
def test_bad_scores_raise_clear_errors(scores, message):
    with pytest.raises(ValueError, match=message):
        hard_sort(scores)


def test_all_padding_set_is_rejected():
    with pytest.raises(ValueError, match="no real element"):
        soft_sort(torch.zeros(2, 3), mask=torch.tensor([[1, 0, 0], [0, 0, 0]]).bool())
