"""Every builder: z invariant (float64 ≤ 1e-10, float32 ≤ 1e-5) under random group elements on
padded, masked inputs of several sizes; padding never changes z; the loss is invariant."""

from __future__ import annotations

import itertools

import pytest
import torch

from quotient.actions import permute_graph, permute_set
from quotient.groups import SymmetricGroup
from quotient.models.builders import graph_giae, molecule_giae, point_giae, set_giae
from quotient.testing import assert_invariant, check_module
from quotient.train import seeded

SIZES = torch.tensor([4, 7, 5, 8, 4, 6])  # at least d + 1 points: no cloud is planar


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _padded(shape: tuple[int, ...], n_max: int = 8, seed: int = 0, fill: float = 0.0):
    x = torch.randn(len(SIZES), n_max, *shape, dtype=torch.float64, generator=_gen(seed))
    mask = torch.arange(n_max)[None, :] < SIZES[:, None]
    return x.masked_fill(~mask[..., None], fill), mask


def _build(make, dtype=torch.float64):
    with seeded(0):
        return make().to(dtype).eval()


def _loss(model, x):
    with torch.no_grad():
        return model.loss(x)[0]


# --- sets ---------------------------------------------------------------------------------------


def test_set_giae_code_is_invariant_and_blind_to_padding():
    model = _build(lambda: set_giae(in_dim=3, max_elements=8, latent_dim=4, hidden=8,
                                    decoder_hidden=16))
    x = _padded((3,))
    group = SymmetricGroup(8)
    assert_invariant(lambda t: model(t).z, group, permute_set, x, generator=_gen(1))
    assert check_module(model, x, generator=_gen(1)).error <= 1e-10  # pose and x̂ move too
    other = _padded((3,), fill=7.5)  # other values in the padding
    assert torch.equal(model(x).z, model(other).z)
    wider = (torch.cat([x[0], torch.full((6, 2, 3), -3.0, dtype=torch.float64)], 1),
             torch.cat([x[1], torch.zeros(6, 2, dtype=torch.bool)], 1))
    assert torch.allclose(model.encoder(wider)[0], model(x).z, rtol=0, atol=1e-12)
    g = group.sample(6, generator=_gen(2))
    assert float(_loss(model, permute_set(g, x)) - _loss(model, x)) == pytest.approx(0, abs=1e-12)


def test_set_giae_in_float32():
    model = _build(lambda: set_giae(in_dim=3, max_elements=8, latent_dim=4, hidden=8,
                                    decoder_hidden=16), torch.float32)
    x, mask = _padded((3,))
    assert_invariant(lambda t: model(t).z, SymmetricGroup(8), permute_set, (x.float(), mask),
                     generator=_gen(1), tol=1e-5)


# --- graphs -------------------------------------------------------------------------------------


def _asymmetric_padded():
    """Six-node graphs without automorphisms, padded to 7 nodes."""
    import networkx as nx
    from networkx.algorithms.isomorphism import GraphMatcher

    graphs = [g for g in nx.graph_atlas_g() if g.number_of_nodes() == 6
              and len(list(itertools.islice(GraphMatcher(g, g).isomorphisms_iter(), 2))) == 1]
    adj = torch.zeros(5, 7, 7, dtype=torch.float64)
    for i, g in enumerate(graphs[:5]):
        adj[i, :6, :6] = torch.as_tensor(nx.to_numpy_array(g))
    return adj, torch.arange(7)[None, :].expand(5, -1) < 6


def test_graph_giae_code_is_invariant_and_blind_to_padding():
    model = _build(lambda: graph_giae(7, latent_dim=4, channels=4, pose_channels=4))
    x = _asymmetric_padded()
    assert check_module(model, x, generator=_gen(1)).error <= 1e-10
    g = SymmetricGroup(7).sample(5, generator=_gen(3))
    assert float(_loss(model, permute_graph(g, x)) - _loss(model, x)) == pytest.approx(
        0, abs=1e-12)
    junk = x[0].clone()
    junk[:, 6, :6] = junk[:, :6, 6] = 1.0  # edges to the padded node are ignored
    assert torch.allclose(model((junk, x[1])).z, model(x).z, rtol=0, atol=1e-12)


# --- point clouds and molecules -----------------------------------------------------------------


@pytest.mark.parametrize("dim, group", [(2, "SE"), (2, "E"), (3, "SE"), (3, "E")])
def test_point_giae_code_and_pose_on_padded_clouds(dim, group):
    from quotient.actions import rigid_motion_and_permute_points
    from quotient.groups import RigidMotions, product

    model = _build(lambda: point_giae(8, dim=dim, group=group, latent_dim=4, hidden=8,
                                      code_hidden=16, decoder_hidden=16))
    x = _padded((dim,))
    g = product(RigidMotions(dim, proper=group == "SE", scale=3.0), SymmetricGroup(8))
    assert_invariant(lambda t: model(t).z, g, rigid_motion_and_permute_points, x,
                     generator=_gen(1))
    report = check_module(model, x, generator=_gen(1))  # pose and reconstruction move too
    assert report.error <= 1e-10
    other = _padded((dim,), fill=-4.0)
    assert torch.equal(model(x).z, model(other).z)
    moved = rigid_motion_and_permute_points(g.sample(6, generator=_gen(5)), x)
    assert float(_loss(model, moved) - _loss(model, x)) == pytest.approx(0, abs=1e-10)
    canonical, _ = model.canonicalize(x)
    again, _ = model.canonicalize(moved)
    assert torch.allclose(canonical[0], again[0], rtol=0, atol=1e-10)


def test_molecule_giae_moves_types_with_their_atoms():
    from quotient.actions import rigid_motion_and_permute_points
    from quotient.groups import E3, product

    model = _build(lambda: molecule_giae(4, 8, latent_dim=4, hidden=8, code_hidden=16,
                                         decoder_hidden=16))
    pos, mask = _padded((3,))
    types = torch.randint(4, mask.shape, generator=_gen(4)).masked_fill(~mask, -1)
    x = (pos, types)
    assert check_module(model, x, generator=_gen(1)).error <= 1e-10
    g = product(E3(scale=3.0), SymmetricGroup(8)).sample(6, generator=_gen(6))
    moved = rigid_motion_and_permute_points(g, x)
    assert float(_loss(model, moved) - _loss(model, x)) == pytest.approx(0, abs=1e-10)
    rec = model(x).reconstruction
    assert rec.shape == (6, 8, 3 + 4 + 1)
    assert torch.allclose(rec[..., 3:].sum(-1), torch.ones(6, 8, dtype=torch.float64))


def test_builders_refuse_what_they_cannot_build():
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        point_giae(5, dim=4)
    with pytest.raises(ValueError, match="group must be 'SE' or 'E'"):
        point_giae(5, group="O")
