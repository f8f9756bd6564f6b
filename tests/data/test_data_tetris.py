"""The eight Tetris shapes and the posed, permuted, noisy samples."""

from __future__ import annotations

import itertools

import pytest
import torch

from quotient.data import TETRIS_NAMES, make_tetris, random_rotations, tetris_shapes


def sorted_distances(points: torch.Tensor) -> torch.Tensor:
    return torch.pdist(points).sort().values


def signed_volume(points: torch.Tensor) -> torch.Tensor:
    return torch.det(points[1:] - points[0])


def test_shapes_table() -> None:
    shapes = tetris_shapes()
    assert shapes.shape == (8, 4, 3) and shapes.dtype == torch.float64
    assert len(TETRIS_NAMES) == 8 == len(set(TETRIS_NAMES))
    assert torch.allclose(shapes.mean(dim=1), torch.zeros(8, 3).double(), atol=1e-12)
    raw = tetris_shapes(centered=False)
    assert torch.equal(raw, raw.round())  # unit-cube coordinates
    # every shape is four distinct points joined by unit steps (a polycube piece)
    for s in raw:
        d = torch.cdist(s, s)
        assert (d + torch.eye(4) > 0.5).all()
        assert ((d - 1).abs() < 1e-9).sum() >= 6  # at least 3 unit edges (each counted twice)


def test_only_the_chiral_pair_shares_distances() -> None:
    shapes = tetris_shapes()
    dists = [sorted_distances(s) for s in shapes]
    same = [(TETRIS_NAMES[i], TETRIS_NAMES[j]) for i, j in itertools.combinations(range(8), 2)
            if torch.allclose(dists[i], dists[j], atol=1e-9)]
    assert same == [("chiral_1", "chiral_2")]


def test_chiral_pair_is_not_related_by_a_proper_rotation() -> None:
    shapes = tetris_shapes()
    a, b = shapes[TETRIS_NAMES.index("chiral_1")], shapes[TETRIS_NAMES.index("chiral_2")]
    db = torch.cdist(b, b)
    matches = 0
    for perm in itertools.permutations(range(4)):
        pa = a[list(perm)]
        if torch.allclose(torch.cdist(pa, pa), db, atol=1e-9):
            matches += 1  # a point correspondence that preserves all distances ...
            # ... is a reflection, never a rotation: orientations are opposite
            assert signed_volume(pa) * signed_volume(b) < -0.5
    assert matches >= 1
    # the mirror image y -> -y of chiral_1 is chiral_2 (same point order)
    mirror = a * torch.tensor([1.0, -1.0, 1.0], dtype=a.dtype)
    assert torch.allclose(mirror - mirror.mean(0), b, atol=1e-12)


def test_random_rotations_are_proper_and_spread() -> None:
    gen = torch.Generator().manual_seed(0)
    r = random_rotations(2000, generator=gen)
    assert r.shape == (2000, 3, 3) and r.dtype == torch.float64
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).double().expand(2000, 3, 3),
                          atol=1e-12)
    assert torch.allclose(torch.det(r), torch.ones(2000, dtype=torch.float64), atol=1e-12)
    # Haar measure: E[R] = 0 and E[trace R] = 0
    assert r.mean(dim=0).abs().max() < 0.06
    assert r.diagonal(dim1=1, dim2=2).sum(-1).mean().abs() < 0.1


def test_make_tetris_shapes_dtypes_and_reconstruction() -> None:
    data = make_tetris(64, seed=1)
    assert data.positions.shape == (64, 4, 3) and data.positions.dtype == torch.float32
    assert data.labels.shape == (64,) and data.labels.dtype == torch.int64
    assert data.rotations.shape == (64, 3, 3) and data.translations.shape == (64, 3)
    assert data.permutations.shape == (64, 4) and data.permutations.dtype == torch.int64
    assert torch.bincount(data.labels, minlength=8).tolist() == [8] * 8
    assert (data.permutations.sort(dim=1).values == torch.arange(4)).all()
    assert not (data.permutations == torch.arange(4)).all()
    canon = tetris_shapes(dtype=torch.float32)[data.labels]
    idx = data.permutations.unsqueeze(-1).expand(-1, -1, 3)
    clean = torch.gather(canon, 1, idx) @ data.rotations.transpose(1, 2)
    clean = clean + data.translations.unsqueeze(1)
    residual = data.positions - clean
    assert residual.abs().max() < 0.06  # noise 0.01: a 6-sigma bound


def test_noise_level_matches() -> None:
    data = make_tetris(2000, noise=0.05, seed=2)
    canon = tetris_shapes()[data.labels]
    idx = data.permutations.unsqueeze(-1).expand(-1, -1, 3)
    clean = torch.gather(canon, 1, idx) @ data.rotations.double().transpose(1, 2)
    residual = data.positions.double() - clean - data.translations.double().unsqueeze(1)
    assert abs(residual.std().item() - 0.05) < 0.003
    assert abs(residual.mean().item()) < 0.003
    assert abs(data.translations.std().item() - 5.0) < 0.3


def test_noise_free_samples_preserve_distances() -> None:
    data = make_tetris(40, noise=0.0, seed=5)
    for pos, label in zip(data.positions.double(), data.labels, strict=True):
        d = sorted_distances(pos)
        assert torch.allclose(d, sorted_distances(tetris_shapes()[label]), atol=1e-5)


def test_switches_off_rotation_and_permutation() -> None:
    data = make_tetris(16, noise=0.0, translation_std=0.0, rotate=False, permute=False, seed=0)
    assert torch.equal(data.rotations, torch.eye(3).expand(16, 3, 3))
    assert torch.allclose(data.positions, tetris_shapes(dtype=torch.float32)[data.labels])


def test_seeded() -> None:
    a, b, c = make_tetris(10, seed=4), make_tetris(10, seed=4), make_tetris(10, seed=5)
    assert torch.equal(a.positions, b.positions) and torch.equal(a.permutations, b.permutations)
    assert not torch.allclose(a.positions, c.positions)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        make_tetris(-1)
    with pytest.raises(ValueError, match="noise and translation_std must be >= 0"):
        make_tetris(4, noise=-0.1)
