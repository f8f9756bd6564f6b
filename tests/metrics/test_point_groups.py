"""Point groups of typed point clouds: known molecules, invariance under rigid motions and
relabellings, the operations form the group, and bad input is refused."""

import itertools

import numpy as np
import pytest
import torch

from quotient.groups import haar_rotations
from quotient.metrics.point_groups import (
    point_cloud_rank,
    point_group,
    schoenflies,
    symmetry_operations,
)

H, C, N, O = 1, 6, 7, 8  # noqa: E741 (atomic numbers)


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def _ring(n: int, radius: float, z: float = 0.0, phase: float = 0.0) -> np.ndarray:
    a = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a), np.full(n, z)], axis=1)


MOLECULES = {
    "methane": (np.array([[0, 0, 0], [1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * 0.63,
                [C, H, H, H, H], "Td", 24),
    "benzene": (np.concatenate([_ring(6, 1.39), _ring(6, 2.47)]), [C] * 6 + [H] * 6, "D6h", 24),
    "water": (np.array([[0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47]]), [O, H, H], "C2v", 4),
    "ammonia": (np.concatenate([[[0, 0, 0.12]], _ring(3, 0.94, -0.27)]), [N, H, H, H], "C3v", 6),
    "ethane (staggered)": (np.concatenate([[[0, 0, 0.77], [0, 0, -0.77]], _ring(3, 1.02, 1.16),
                                           _ring(3, 1.02, -1.16, np.pi / 3)]),
                           [C, C] + [H] * 6, "D3d", 12),
    "cube": (np.array(list(itertools.product((-1, 1), repeat=3)), dtype=float), [C] * 8, "Oh", 48),
    "trans-planar C2h": (np.array([[0.7, 0, 0], [-0.7, 0, 0], [1.3, 0.9, 0], [-1.3, -0.9, 0]]),
                         [C, C, O, O], "C2h", 4),
    "allene-like D2d": (np.array([[0, 0, 0], [0, 0, 1.3], [0, 0, -1.3], [0.9, 0, 1.9],
                                  [-0.9, 0, 1.9], [0, 0.9, -1.9], [0, -0.9, -1.9]]),
                        [C, C, C, H, H, H, H], "D2d", 8),
    "propeller C3": (np.concatenate([[[0, 0, 0]], _ring(3, 1.0), _ring(3, 1.6, 0.4, 0.3)]),
                     [C, C, C, C, H, H, H], "C3", 3),
}


@pytest.mark.parametrize("name", sorted(MOLECULES))
def test_known_point_groups(name):
    x, types, expected, order = MOLECULES[name]
    group = point_group(x, types)
    assert (group.name, group.order) == (expected, order)


@pytest.mark.parametrize("name", sorted(MOLECULES))
def test_point_group_is_invariant_under_rigid_motions_and_relabelling(name):
    x, types, expected, order = MOLECULES[name]
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        r = haar_rotations(1, generator=gen, dtype=torch.float64)[0].numpy()
        perm = torch.randperm(len(x), generator=gen).numpy()
        moved = x[perm] @ r.T + np.array([3.0, -2.0, 5.0])
        group = point_group(moved, np.asarray(types)[perm])
        assert (group.name, group.order) == (expected, order)


@pytest.mark.parametrize("name", ["methane", "benzene", "cube", "allene-like D2d"])
def test_operations_are_symmetries_and_form_a_group(name):
    x, types, _, _ = MOLECULES[name]
    ops = symmetry_operations(x, types)
    u = x - x.mean(0)
    t = np.asarray(types)
    for q in ops:
        np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
        image = u @ q.T
        d = np.linalg.norm(image[:, None] - u[None], axis=-1)
        d[t[:, None] != t[None, :]] = np.inf
        assert d.min(axis=1).max() < 1e-9
    # closure: every product is one of the operations
    for a, b in itertools.product(ops, ops):
        assert min(np.abs(a @ b - q).max() for q in ops) < 1e-9


def test_types_break_symmetry():
    """The same geometry with one atom of another type loses the operations that move it."""
    x, _, _, _ = MOLECULES["methane"]
    assert point_group(x, [C, H, H, H, N]).name == "C3v"
    assert point_group(x, [C, H, H, N, N]).name == "C2v"
    assert point_group(x).name == "Td"  # untyped: the centre atom is still fixed


def test_generic_clouds_and_planar_clouds():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    assert point_group(x).name == "C1"
    flat = x.copy()
    flat[:, 2] = 0.0
    group = point_group(flat)
    assert (group.name, group.rank) == ("Cs", 2)


def test_linear_clouds():
    co2 = np.array([[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]])
    hcn = np.array([[0, 0, 0], [0, 0, 1.15], [0, 0, -1.07]])
    assert point_group(co2, [C, O, O]).name == "D∞h"
    assert point_group(hcn, [C, N, H]).name == "C∞v"
    assert point_group(co2, [C, O, O]).rank == 1
    assert point_group(np.zeros((1, 3))).name == "Kh"


def test_tolerance_decides_near_symmetry():
    x, types, _, _ = MOLECULES["water"]
    bent = x.copy()
    bent[1, 1] += 0.05  # one O-H bond 0.05 Å longer
    assert point_group(bent, types).name == "Cs"
    assert point_group(bent, types, tol=0.1).name == "C2v"


def test_rank():
    assert point_cloud_rank(np.array([[0, 0, 0], [1, 0, 0], [3, 0, 0]])) == 1
    assert point_cloud_rank(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]])) == 2
    assert point_cloud_rank(MOLECULES["methane"][0]) == 3


def test_schoenflies_of_generated_groups():
    def close(gens):
        ops = [np.eye(3)]
        frontier = list(ops)
        while frontier:
            new = []
            for a in frontier:
                for g in gens:
                    b = g @ a
                    if min(np.abs(b - q).max() for q in ops) > 1e-9:
                        ops.append(b)
                        new.append(b)
            frontier = new
        return np.stack(ops)

    sigma_h = np.diag([1.0, 1.0, -1.0])
    sigma_v = np.diag([1.0, -1.0, 1.0])
    for n in (2, 3, 5, 6):
        cn = _rot(2, 2 * np.pi / n)
        c2x = _rot(0, np.pi)
        assert schoenflies(close([cn])) == f"C{n}"
        assert schoenflies(close([cn, sigma_h])) == f"C{n}h"
        assert schoenflies(close([cn, sigma_v])) == f"C{n}v"
        assert schoenflies(close([cn, c2x])) == f"D{n}"
        assert schoenflies(close([cn, c2x, sigma_h])) == f"D{n}h"
        assert schoenflies(close([_rot(2, np.pi / n) @ sigma_h])) == f"S{2 * n}"
    assert schoenflies(close([-np.eye(3)])) == "Ci"
    assert schoenflies(close([sigma_v])) == "Cs"
    with pytest.raises(ValueError, match="not a finite point group"):
        schoenflies(np.stack([np.eye(3), _rot(2, 0.3)]))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        point_group(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        point_group(np.array([[0, 0, 0], [np.nan, 0, 0]]))
    with pytest.raises(ValueError, match="types must have shape"):
        point_group(np.eye(3), [1, 2])
    with pytest.raises(ValueError, match="tol must be positive"):
        symmetry_operations(np.eye(3), tol=0.0)
    with pytest.raises(ValueError, match="collinear"):
        symmetry_operations(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]]))
    with pytest.raises(ValueError, match="empty"):
        point_group(np.zeros((0, 3)))


def test_point_group_counts_orders_by_frequency():
    from quotient.metrics.point_groups import point_group_counts

    groups = [point_group(*MOLECULES[name][:2]) for name in ("water", "methane", "water")]
    assert point_group_counts(groups) == {"C2v": 2, "Td": 1}
