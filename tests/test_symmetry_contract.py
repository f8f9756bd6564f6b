"""Every equivariant module the library ships declares its symmetry, and keeps it: the checker
passes each one in float64 at 1e-10 against its own declaration (all elements of small finite
groups, random ones otherwise), and a module whose promise is broken fails it."""

from __future__ import annotations

import itertools

import pytest
import torch

from quotient.models.giae import GIAE
from quotient.models.graph_giae import GraphGIAE
from quotient.models.image_giae import image_giae, signal_giae
from quotient.models.se2_giae import se2_image_giae
from quotient.nn.points import EGNN, PointCloudEncoder
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.pose_rigid import RigidPermutationPose
from quotient.nn.sets import DeepSetsLayer, SetAttentionLayer, SetDecoder, SetEncoder
from quotient.symmetry import Symmetry
from quotient.testing import check_module
from quotient.train import seeded

TOL = 1e-10


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _asymmetric_graphs() -> tuple[torch.Tensor, torch.Tensor]:
    """Six-node graphs whose only automorphism is the identity: their canonical order is
    unique, so the pose of a graph GIAE is equivariant on them (for graphs with automorphisms
    only up to those)."""
    import networkx as nx
    from networkx.algorithms.isomorphism import GraphMatcher

    graphs = [g for g in nx.graph_atlas_g() if g.number_of_nodes() == 6
              and len(list(itertools.islice(GraphMatcher(g, g).isomorphisms_iter(), 2))) == 1]
    adj = torch.stack([torch.as_tensor(nx.to_numpy_array(g)) for g in graphs[:6]])
    return adj.double(), torch.ones(adj.shape[:2], dtype=torch.bool)


def _image():
    return image_giae(image_size=12, latent_dim=3, widths=(2, 2), decoder_widths=(4, 4, 4))


def _se2():
    return se2_image_giae(canvas=20, crop_size=9, canonical_size=12, latent_dim=3,
                          widths=(2, 2), decoder_widths=(4, 4, 4))


def _signal():
    return signal_giae(length=16, latent_dim=3, widths=(4, 4), hidden=8)


def _sets():
    return GIAE(SetEncoder(2, 3, hidden=8), PermutationPose(), SetDecoder(3, 5, 2, hidden=8))


def _points():
    return GIAE(PointCloudEncoder(3, 4, hidden=8, z_hidden=8), RigidPermutationPose(),
                SetDecoder(3, 4, 3, hidden=8))


def _graph():
    return GraphGIAE(6, latent_dim=3, channels=4)


def _volume():
    from quotient.models.volume_giae import volume_giae

    return volume_giae(size=8, latent_dim=3, widths=(2, 2), decoder_widths=(4, 4), hidden=8)


# name: (build the module, build its input from the float64 module)
CASES = {
    "C4Encoder": (lambda: _image().encoder, lambda m: _x(3, 1, 12, 12)),
    "SO2PoseHead": (lambda: _image().pose_head, lambda m: _x(3, 2)),
    "image GIAE": (_image, lambda m: _x(3, 1, 12, 12)),
    "SE2CropEncoder": (lambda: _se2().encoder, lambda m: _x(3, 1, 20, 20)),
    "SE2PoseHead": (lambda: _se2().pose_head,
                    lambda m: _se2().encoder.double().eval()(_x(3, 1, 20, 20))[1]),
    "SE(2) image GIAE": (_se2, lambda m: _x(3, 1, 20, 20)),
    "CircularEncoder": (lambda: _signal().encoder, lambda m: _x(3, 1, 16)),
    "ShiftPoseHead": (lambda: _signal().pose_head, lambda m: _x(3, 16)),
    "signal GIAE": (_signal, lambda m: _x(3, 1, 16)),
    "DeepSetsLayer": (lambda: DeepSetsLayer(2, 4), lambda m: _x(3, 5, 2)),
    "SetAttentionLayer": (lambda: SetAttentionLayer(4, 2), lambda m: _x(3, 5, 4)),
    "SetEncoder": (lambda: _sets().encoder, lambda m: _x(3, 5, 2)),
    "PermutationPose": (PermutationPose, lambda m: _x(3, 5)),
    "set GIAE": (_sets, lambda m: _x(3, 5, 2)),
    "EGNN": (lambda: EGNN(0, 8, 2), lambda m: _x(3, 4, 3)),
    "PointCloudEncoder": (lambda: _points().encoder, lambda m: _x(3, 4, 3)),
    "RigidPermutationPose": (RigidPermutationPose,
                             lambda m: _points().encoder.double().eval()(_x(3, 4, 3))[1]),
    "point GIAE": (_points, lambda m: _x(3, 4, 3)),
    "GraphEncoder": (lambda: _graph().encoder, lambda m: _asymmetric_graphs()),
    "GraphPermutationPose": (lambda: _graph().pose_head, None),
    "graph GIAE": (_graph, lambda m: _asymmetric_graphs()),
    "CubeEncoder": (lambda: _volume().encoder, lambda m: _x(3, 1, 8, 8, 8)),
    "SO3VolumePose": (lambda: _volume().pose_head, lambda m: _x(3, 2, 3)),
    "volume GIAE": (_volume, lambda m: _x(3, 1, 8, 8, 8)),
}


def _build(case: str) -> tuple[torch.nn.Module, object]:
    make, data = CASES[case]
    with seeded(0):
        module = make().double().eval()
    if case == "GraphPermutationPose":
        with seeded(0):
            graph = _graph().double().eval()
        module = graph.pose_head
        return module, graph.encoder(_asymmetric_graphs())[1]
    return module, data(module)


@pytest.mark.parametrize("case", list(CASES))
def test_every_shipped_module_keeps_its_declared_symmetry(case):
    module, x = _build(case)
    assert isinstance(module.symmetry, Symmetry), f"{case} declares no symmetry"
    report = check_module(module, x, generator=torch.Generator().manual_seed(1))
    assert report.error <= TOL, (case, report.error)


def test_a_module_that_breaks_its_promise_fails_its_own_check():
    module, x = _build("set GIAE")
    original = module.decoder.forward

    class Peek(torch.nn.Module):  # a "pose head" that leaks the input order into z
        symmetry = module.encoder.symmetry

        def __init__(self, enc):
            super().__init__()
            self.enc = enc

        def forward(self, t):
            z, feats = self.enc(t)
            return z + t[:, :1, :1].reshape(-1, 1), feats

    module.encoder = Peek(module.encoder)
    assert original is not None
    with pytest.raises(AssertionError, match="not equivariant under S5"):
        check_module(module, x, generator=torch.Generator().manual_seed(1))


def test_the_giae_symmetry_is_assembled_from_its_parts():
    module, _ = _build("image GIAE")
    sym = module.symmetry
    assert sym.group is module.encoder.symmetry.group
    assert sym.describe() == ("C4 acting by rot90_image; output: {z: invariant, "
                              "pose: c4_vector_action, reconstruction: rot90_image}")
    plain = GIAE(torch.nn.Identity(), PermutationPose(), torch.nn.Identity())
    assert plain.symmetry is None  # an encoder without a declaration: nothing is promised


# --- the contract's own helpers (scripts/mutation.py measures how well these are tested) ---


def _perm(b: int = 2) -> torch.Tensor:
    return torch.tensor([[1, 2, 0]] * b)


def test_output_actions_follow_the_output_structure():
    from functools import partial

    from quotient.actions import permute_set
    from quotient.groups import SymmetricGroup
    from quotient.symmetry import act_on_output

    g, z, v = _perm(), _x(2, 4), _x(2, 3, 2)
    moved = permute_set(g, v)
    out = act_on_output((None, permute_set), g, (z, v))
    assert isinstance(out, tuple) and out[0] is z and torch.equal(out[1], moved)
    out = act_on_output([None, permute_set], g, [z, v])
    assert isinstance(out, list) and torch.equal(out[1], moved)
    out = act_on_output({"z": None, "v": permute_set}, g, {"z": z, "v": v})
    assert out["z"] is z and torch.equal(out["v"], moved)
    assert act_on_output(None, g, v) is v
    shifted = act_on_output(partial(lambda c, g, y: y + c, 1.0), g, v)  # any callable
    assert torch.equal(shifted, v + 1.0)

    sym = Symmetry(SymmetricGroup(3), permute_set, output=(None, permute_set),
                   observe=lambda y: (y[0], y[1]))
    assert torch.equal(sym.act_output(g, (z, v))[1], moved)
    assert sym.observed((z, v, "extra")) == (z, v)
    assert Symmetry(SymmetricGroup(3), permute_set).observed(v) is v
    picked = lambda y: y[1]  # noqa: E731
    changed = sym.with_output(permute_set, picked)
    assert (changed.output, changed.observe) == (permute_set, picked)
    assert (changed.group, changed.input) == (sym.group, sym.input)
    assert sym.with_output(None).observe is None and sym.with_output(None).invariant


def test_a_structure_mismatch_names_both_structures():
    from quotient.actions import permute_set
    from quotient.symmetry import act_on_output

    g, v = _perm(), _x(2, 3, 2)
    cases = [
        ((None, permute_set), (v, v, v),
         "the output actions describe 2 parts but the output is tuple of 3"),
        ((None, permute_set), v,  # a batch of 2, as many as there are actions
         "the output actions describe 2 parts but the output is Tensor"),
        ({"z": None, "v": permute_set}, {"v": v},
         "the output actions describe the keys ['v', 'z'] but the output has ['v']"),
        ({"z": None, "v": permute_set}, v,
         "the output actions describe the keys ['v', 'z'] but the output has "
         "<class 'torch.Tensor'>"),
    ]
    for actions, y, message in cases:
        with pytest.raises(TypeError) as info:
            act_on_output(actions, g, y)
        assert str(info.value) == message


def test_symmetries_describe_themselves_in_one_line():
    from functools import partial

    from quotient.actions import permute_set
    from quotient.groups import SymmetricGroup
    from quotient.symmetry import describe_actions

    def shift(g, y):
        return y

    unnamed = partial(shift)  # neither .name nor .__name__
    assert describe_actions(None) == "invariant"
    assert describe_actions((None, [permute_set, shift])) == "(invariant, (permute_set, shift))"
    assert describe_actions({"z": None, "v": unnamed}) == "{z: invariant, v: partial}"
    assert Symmetry(lambda x: SymmetricGroup(x.shape[1]), shift).describe() == \
        "a group fixed by the input acting by shift; output: invariant"
    assert Symmetry(SymmetricGroup(3), unnamed, output=permute_set).describe() == \
        "S3 acting by an action; output: permute_set"


def test_labelled_data_under_the_contract_every_element_and_random_ones():
    # the dynamics toolkit augments (x, y) with the same contract: input acts on x, output on y
    from quotient.actions import rot90_image
    from quotient.groups import SO2, CyclicGroup
    from quotient.symmetry import Symmetry as Contract

    x = torch.arange(2 * 9, dtype=torch.float64).reshape(2, 1, 3, 3)
    y = torch.tensor([3, 5])
    sym = Contract(CyclicGroup(4), rot90_image)
    assert sym.act_x is rot90_image and sym.act_y is None
    xs, ys = sym.orbit(x, y)
    assert xs.shape == (8, 1, 3, 3) and ys.tolist() == [3, 5] * 4  # element-major
    for k in range(4):  # block k is every sample turned by the k-th element
        assert torch.equal(xs[2 * k:2 * k + 2], torch.rot90(x, k, dims=(-2, -1)))
    assert len({tuple(t.flatten().tolist()) for t in xs[::2]}) == 4  # the whole orbit
    # targets that turn with the input turn with the same element
    both = Contract(CyclicGroup(4), rot90_image, rot90_image)
    bx, by = both.orbit(x, x.clone())
    assert torch.equal(bx, by)
    gen = torch.Generator().manual_seed(0)
    rx, ry = both.random(x, x.clone(), gen, draws=3)
    assert rx.shape == (6, 1, 3, 3) and torch.equal(rx, ry)
    with pytest.raises(ValueError, match="exact augmentation needs a finite group, SO"):
        Contract(SO2(), rot90_image).orbit(x, y)


def test_labelled_data_orbits_and_random_draws_use_the_group_of_the_input():
    """orbit: every element on every sample, element-major; random: one draw per sample by
    default, the group's own draws from the given generator; both read the group off the
    input; a Lie group has no orbit to enumerate."""
    from quotient.actions import permute_set
    from quotient.groups import SO2, SymmetricGroup

    sym = Symmetry(lambda x: SymmetricGroup(x.shape[1]), permute_set)  # invariant targets
    x = torch.arange(12.0, dtype=torch.float64).reshape(2, 3, 2)
    y = torch.tensor([0.5, -1.0], dtype=torch.float64)
    xs, ys = sym.orbit(x, y)
    every = SymmetricGroup(3).elements()
    assert torch.equal(xs, permute_set(every.repeat_interleave(2, 0), x.repeat(6, 1, 1)))
    assert torch.equal(ys, y.repeat(6))
    x6 = torch.randn(2, 6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    xr, yr = sym.random(x6, y, generator=torch.Generator().manual_seed(3))
    g = SymmetricGroup(6).sample(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(xr, permute_set(g, x6)) and torch.equal(yr, y)
    x3, y3 = sym.random(x6, y, generator=torch.Generator().manual_seed(3), draws=3)
    assert x3.shape == (6, 6, 2) and torch.equal(y3, y.repeat(3))
    with pytest.raises(ValueError) as info:
        Symmetry(SO2(), lambda g, x: x).orbit(x, y)
    assert str(info.value) == ("exact augmentation needs a finite group, SO(2) is not; use "
                               "augment='stochastic'")
