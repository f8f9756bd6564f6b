"""The tetromino generator: seeded, the documented shapes, mirror pairs, clear errors."""

import pytest
import torch

from quotient.data.tetrominoes import (
    MIRROR_PAIRS,
    TETROMINO_NAMES,
    make_tetrominoes,
    tetromino_shapes,
)


def _sorted_distances(shape: torch.Tensor) -> torch.Tensor:
    return torch.cdist(shape, shape).flatten().sort().values


def test_mirror_pairs_have_equal_distances_and_opposite_orientation():
    shapes = tetromino_shapes()
    for a, b in MIRROR_PAIRS:
        sa, sb = shapes[TETROMINO_NAMES.index(a)], shapes[TETROMINO_NAMES.index(b)]
        assert torch.allclose(_sorted_distances(sa), _sorted_distances(sb), atol=1e-12)
        mirrored = sa * torch.tensor([-1.0, 1.0], dtype=torch.float64)
        assert torch.allclose(_sorted_distances(mirrored), _sorted_distances(sb))
    # the other shapes differ from each other up to any isometry
    d = [_sorted_distances(s) for s in shapes]
    distinct = {tuple(x.round(decimals=6).tolist()) for x in d}
    assert len(distinct) == len(TETROMINO_NAMES) - len(MIRROR_PAIRS)


def test_samples_are_posed_copies_of_the_shapes_and_seeded():
    data = make_tetrominoes(200, seed=3, noise=0.0)
    again = make_tetrominoes(200, seed=3, noise=0.0)
    assert torch.equal(data.positions, again.positions)
    assert data.positions.shape == (200, 4, 2) and data.positions.dtype == torch.float32
    shapes = tetromino_shapes()
    for x, label in zip(data.positions.double(), data.labels, strict=True):
        assert torch.allclose(_sorted_distances(x), _sorted_distances(shapes[label]), atol=1e-5)
    assert not torch.equal(make_tetrominoes(200, seed=4).positions, data.positions)
    assert set(data.labels.tolist()) == set(range(len(TETROMINO_NAMES)))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n >= 1"):
        make_tetrominoes(0)
    with pytest.raises(ValueError, match="must be >= 0"):
        make_tetrominoes(5, noise=-0.1)
