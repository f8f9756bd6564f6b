"""The loaders of your own sets, point clouds and graphs: every way of marking padding gives the
same data, samples are compacted and fitted to the declared maximum without changing their real
elements, graphs are relabelled consistently, and split sizes follow the file.

Each malformed file is a case of the bad-input matrix (tests/cli/test_cli_bad_input.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quotient.data.user_files import (
    load_graph_file,
    load_point_cloud_file,
    load_set_file,
    split_data,
    split_sizes,
)
from quotient.errors import ConfigError, DataError

_RNG = np.random.default_rng(7)


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def _real_rows(values: torch.Tensor, mask: torch.Tensor) -> list[np.ndarray]:
    """The real elements of each sample, in file order."""
    return [v[m].numpy() for v, m in zip(values, mask, strict=True)]


def test_padding_by_mask_nan_or_types_gives_the_same_clouds(tmp_path):
    points = _RNG.normal(size=(6, 5, 3))
    mask = np.array([[1, 0, 1, 1, 0]] * 3 + [[1, 1, 1, 1, 1]] * 3, dtype=bool)
    types = np.where(mask, _RNG.integers(0, 4, (6, 5)), -1)
    by_mask = load_point_cloud_file(_save(tmp_path / "m.npz", points=points, mask=mask,
                                          types=np.where(mask, types, 7)))
    by_nan = load_point_cloud_file(_save(tmp_path / "n.npz",
                                         points=np.where(mask[..., None], points, np.nan)))
    by_types = load_point_cloud_file(_save(tmp_path / "t.npz", points=points, types=types))
    for data in (by_mask, by_nan, by_types):
        assert data.values.dtype == torch.float64 and data.mask.sum(1).tolist() == [3] * 3 + [5] * 3
        assert data.mask[:, :3].all()  # real points first
        assert (data.values[~data.mask] == 0).all()  # padding is zero, never NaN
        for got, want in zip(_real_rows(data.values, data.mask),
                             [p[m] for p, m in zip(points, mask, strict=True)], strict=True):
            np.testing.assert_array_equal(got, want)
    assert by_nan.types is None
    assert torch.equal(by_mask.types, by_types.types)
    assert (by_types.types[~by_types.mask] == -1).all()
    assert by_types.inputs()[1] is by_types.types  # typed clouds go in as (points, types)
    assert by_nan.inputs()[1].dtype == torch.bool


def test_declared_maximum_pads_or_cuts_only_padding(tmp_path):
    elements = _RNG.normal(size=(4, 6, 2))
    mask = np.zeros((4, 6), dtype=np.int64)  # 0/1 numbers are a mask too
    mask[:, [1, 4]] = 1
    path = _save(tmp_path / "s.npz", elements=elements, mask=mask, labels=np.arange(4))
    for slots in (2, 6, 9):
        data = load_set_file(path, max_elements=slots)
        assert data.values.shape == (4, slots, 2) and data.mask.sum().item() == 8
        np.testing.assert_array_equal(data.values[:, :2].numpy(), elements[:, [1, 4]])
    assert load_set_file(path).values.shape == (4, 6, 2)
    assert load_set_file(path).labels.tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError, match="set 0 has 2 real elements, above max_elements=1"):
        load_set_file(path, max_elements=1)


def test_graphs_are_relabelled_consistently(tmp_path):
    adjacency = np.zeros((1, 5, 5), dtype=np.uint8)
    for i, j in ((0, 2), (2, 4), (0, 4), (3, 4)):  # a triangle 0-2-4 with a tail 4-3
        adjacency[0, i, j] = adjacency[0, j, i] = 1
    mask = np.array([[1, 0, 1, 1, 1]], dtype=bool)  # node 1 is padding
    data = load_graph_file(_save(tmp_path / "g.npz", adjacency=adjacency, mask=mask),
                           max_nodes=6)
    real = np.array([0, 2, 3, 4])
    assert data.values.shape == (1, 6, 6) and data.mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    np.testing.assert_array_equal(data.values[0, :4, :4].numpy(),
                                  adjacency[0][np.ix_(real, real)])
    assert data.values[0, 4:].abs().sum() == 0 and data.values[0, :, 4:].abs().sum() == 0


def test_unrelated_arrays_are_ignored_and_misspelt_ones_named(tmp_path):
    points = _RNG.normal(size=(3, 4, 2))
    ok = load_point_cloud_file(_save(tmp_path / "a.npz", points=points, names=np.arange(3)))
    assert ok.mask.all() and ok.labels is None
    with pytest.raises(DataError, match="'label', .* did you mean 'labels'"):
        load_point_cloud_file(_save(tmp_path / "b.npz", points=points, label=np.arange(3)))


@pytest.mark.parametrize(("sizes", "expected"), [
    ((None, None), (8, 2)),  # 80 % / 20 %
    ((6, None), (6, 4)),  # what n_train leaves
    ((None, 3), (7, 3)),
    ((5, 2), (5, 2)),  # part of the file
])
def test_split_sizes_default_to_the_file(sizes, expected):
    assert split_sizes(10, *sizes, what="sets", source="f.npz") == expected


def test_split_sizes_refuse_what_cannot_work():
    with pytest.raises(ConfigError, match=r"exceeds the 10 sets of f.npz; pass e.g. --set "
                                          r"n_train=8 n_test=2"):
        split_sizes(10, 9, 2, what="sets", source="f.npz")
    with pytest.raises(ConfigError, match="n_test = 10 leaves none of the 10 sets"):
        split_sizes(10, None, 10, what="sets", source="f.npz")
    with pytest.raises(ConfigError, match="train.batch_size=16 is larger than the 8 training"):
        split_sizes(10, None, None, what="sets", source="f.npz", batch_size=16)
    assert split_sizes(2, None, None, what="sets", source="f.npz") == (1, 1)


def test_split_is_seeded_and_disjoint(tmp_path):
    data = load_set_file(_save(tmp_path / "s.npz", elements=np.arange(10.0).reshape(10, 1, 1)))
    train, test = split_data(data, 7, 3, seed=4)
    again = split_data(data, 7, 3, seed=4)
    assert torch.equal(train.values, again[0].values) and torch.equal(test.values, again[1].values)
    ids = sorted(train.values.flatten().tolist() + test.values.flatten().tolist())
    assert ids == list(range(10))
    assert not torch.equal(split_data(data, 7, 3, seed=5)[0].values, train.values)
