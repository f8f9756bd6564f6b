"""The nn layer's promises in detail: one clear line for each mistake (word for word), the
documented defaults, and the small exact helpers (masks, sorting, turning, shifting) the
encoders and pose heads are built from (scripts/mutation.py measures these tests)."""

from __future__ import annotations

import math

import pytest
import torch

from quotient.groups import SE3
from quotient.nn import (
    graph_pose,
    graphs,
    image_encoder,
    images,
    points,
    pose_frames,
    pose_perm,
    pose_rigid,
    pose_so2,
    sets,
    signals,
)
from quotient.nn.pose import masked_rows

F64 = torch.float64

BATCH = ("got 3 group elements for a batch of 2 samples; pass one element per sample "
         "(repeat_element / expand the batch)")
SET_SHAPE = ("expected shape (batch, n_elements, features), got (2, 3); add a batch axis with "
             "x[None] or a feature axis with x[..., None]")
COORDS = ("coordinates must have shape (batch, n_points, 3) or (batch, n_points, 2), got "
          "(2, 3); add a batch axis with x[None]")
UNSORT = ("elements but the input has 3; build the model for n=3 (sets of different sizes: pad "
          "them to the largest and pass a mask)")


def _refusals():
    adj = torch.zeros(2, 4, 4)
    long2, long3 = torch.zeros(2, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    return [
        (lambda: graphs.as_graph_batch({"adj": adj}),
         "a graph batch needs the key 'adjacency', got keys ['adj']"),
        (lambda: graphs.as_graph_batch("graph"),
         "graphs must be given as an adjacency tensor (B, n, n), a tuple (adjacency, "
         "mask[, node_features]) or a dict; got str"),
        (lambda: graphs.as_graph_batch((adj, None, torch.zeros(2, 3, 5))),
         "node_features must have shape (batch, n, f) = (2, 4) + (f,), got (2, 3, 5)"),
        (lambda: graphs.as_graph_batch((adj, None, torch.full((2, 4, 5), float("nan")))),
         "node_features have NaN or infinite entries; clean them first"),
        (lambda: graphs.as_graph_batch(torch.zeros(4, 4)),
         "adjacency must have shape (batch, n, n), got (4, 4); add a batch dimension with "
         "adjacency[None]"),
        (lambda: graphs.as_graph_batch(torch.zeros(1, 4, 4, 4)),
         "adjacency must have shape (batch, n, n), got (1, 4, 4, 4)"),
        (lambda: graphs.GraphEncoder(latent_dim=0),
         "latent_dim, channels and layers must be >= 1, pose_channels and node_features >= 0, "
         "and pose_layers >= 1 for a pose trunk"),
        (lambda: graph_pose.GraphPermutationPose(method="x"),
         "method must be 'individualize' or 'sort', got 'x'"),
        (lambda: graph_pose.GraphPermutationPose()(torch.zeros(2, 3)),
         "GraphPermutationPose needs the GraphFeatures of a GraphEncoder, got Tensor"),
        (lambda: image_encoder.C4Encoder(image_size=None),
         "readout='canonical' needs a fixed image_size"),
        (lambda: image_encoder.C4Encoder(image_size=8)(torch.zeros(8, 8)),
         "C4Encoder: expected images of shape (batch, 1, H, W), got (8, 8); for one "
         "one-channel image pass x[None, None]"),
        (lambda: images.check_images(torch.zeros(1, 8, 8), 1, 8, "M"),
         "M: expected images of shape (batch, 1, H, W), got (1, 8, 8); this looks like one "
         "image without the batch axis: pass x.unsqueeze(0) (shape (1, 1, H, W))"),
        (lambda: images.check_images(torch.zeros(3, 8, 6), 3, 8, "M"),
         "M: expected images of shape (batch, 3, H, W), got (3, 8, 6); for a batch of "
         "one-channel images add the channel axis: x.unsqueeze(1)"),
        (lambda: images.check_images(torch.zeros(8, 8, 3), 3, 8, "M"),
         "M: expected images of shape (batch, 3, H, W), got (8, 8, 3); this looks like one "
         "channels-last image (H, W, C): pass x.permute(2, 0, 1).unsqueeze(0)"),
        (lambda: images.check_images(torch.zeros(8, 6, 3), 3, 8, "M"),
         "M: expected images of shape (batch, 3, H, W), got (8, 6, 3); for a batch of "
         "one-channel images add the channel axis: x.unsqueeze(1)"),
        (lambda: images.check_images(torch.zeros(5, 8, 8), 1, 8, "M"),
         "M: expected images of shape (batch, 1, H, W), got (5, 8, 8); for a batch of "
         "one-channel images add the channel axis: x.unsqueeze(1)"),
        (lambda: images.check_images(torch.zeros(2, 8, 8, 3), 3, 8, "M"),
         "M: the images are channels-last, (batch, H, W, C) = (2, 8, 8, 3); the model takes "
         "(batch, C, H, W): pass x.permute(0, 3, 1, 2)"),
        (lambda: images.check_images(torch.zeros(2, 8, 6, 3), 3, 8, "M"),
         "M: expected 3 channel(s), got 8 in shape (2, 8, 6, 3); convert the images or build "
         "the model with in_channels=8"),
        (lambda: images.check_images(torch.zeros(2, 2, 6, 6), 3, 8, "M"),
         "M: expected 3 channel(s), got 2 in shape (2, 2, 6, 6); convert the images or build "
         "the model with in_channels=2"),
        (lambda: images.c4_regular_action(long2, torch.zeros(2, 3, 4, 4)),
         "c4_regular_action: expected (batch, fields*4, H, W), got (2, 3, 4, 4)"),
        (lambda: images.c4_regular_action(long2, torch.zeros(2, 4, 4)),
         "c4_regular_action: expected (batch, fields*4, H, W), got (2, 4, 4)"),
        (lambda: images.c4_regular_action(long3, torch.zeros(2, 4, 4, 4)),
         f"c4_regular_action: {BATCH}"),
        (lambda: images.c4_vector_action(long2, torch.zeros(2, 3)),
         "c4_vector_action: expected 2-vectors (batch, ..., 2), got (2, 3)"),
        (lambda: images.c4_vector_action(long3, torch.zeros(2, 2)), f"c4_vector_action: {BATCH}"),
        (lambda: sets.check_set(torch.zeros(2, 0, 3), None),
         "set: empty sets (n_elements = 0) cannot be encoded; every set needs at least one "
         "element"),
        (lambda: sets.check_set(torch.zeros(2, 3, 3, dtype=torch.long), None),
         "set: expected floating-point values, got torch.int64; convert with .float() (one-hot "
         "encode categorical elements)"),
        (lambda: sets.check_set(torch.zeros(2, 3), None), f"set: {SET_SHAPE}"),
        (lambda: sets.SetAttentionLayer(4, 2)(torch.zeros(2, 3)),
         f"SetAttentionLayer: {SET_SHAPE}"),
        (lambda: sets.SetEncoder(2, 3)(torch.zeros(2, 3, 5)),
         "SetEncoder: elements must have 2 features, got 5 (shape (2, 3, 5))"),
        (lambda: points.EGNN(0, 8, 2)(torch.zeros(2, 3)), f"EGNN: {COORDS}"),
        (lambda: points.PointCloudEncoder(3, 4)(torch.zeros(2, 3)), f"PointCloudEncoder: {COORDS}"),
        (lambda: points.PointCloudEncoder(3, 4, n_types=3)(torch.zeros(2, 4, 3)),
         "this encoder expects atom types: pass (positions, types)"),
        (lambda: signals.CircularEncoder(kernel_size=4), "kernel_size must be odd, got 4"),
        (lambda: pose_frames.gram_schmidt(torch.randn(2, 3), torch.randn(2, 3), proper=False),
         "gram_schmidt(proper=False) needs the centred points to fix the handedness; pass "
         "points=x - t"),
        (lambda: pose_perm.PermutationPose()([1, 2]),
         "scores must have shape (batch, n_elements), got list; squeeze the trailing feature "
         "dimension of per-element scores"),
        (lambda: pose_perm.PermutationPose()(torch.zeros(2, 3, 1)),
         "scores must have shape (batch, n_elements), got (2, 3, 1); squeeze the trailing "
         "feature dimension of per-element scores"),
        (lambda: pose_perm.unsort_rows(torch.eye(3)[None], torch.zeros(1, 4, 2)),
         f"the decoder makes sets of 4 {UNSORT}"),
        (lambda: pose_perm.unsort_rows(torch.eye(3)[None], torch.zeros(4)),
         f"the decoder makes sets of ? {UNSORT}"),
        (lambda: pose_so2.turn_vector(torch.zeros(3), torch.zeros(2, 2)), f"turn_vector: {BATCH}"),
    ]


def test_every_refusal_is_one_line_naming_the_fix():
    for run, message in _refusals():
        with pytest.raises((ValueError, TypeError)) as info:
            run()
        assert str(info.value) == message


def _shapes(module):
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


@pytest.mark.parametrize("build,explicit", [
    (lambda: graphs.GraphEncoder(), lambda: graphs.GraphEncoder(
        32, 32, 3, pose_channels=16, pose_layers=2, node_features=0, n_ref=7.0,
        batch_norm=True, walks=1)),
    (lambda: image_encoder.C4Encoder(), lambda: image_encoder.C4Encoder(
        1, 32, (8, 16, 32), 3, 28, True, 128, "dipole", "canonical", 0.02)),
    (lambda: images.ConvEncoder(), lambda: images.ConvEncoder(1, 32, (32, 64, 128), 28, True)),
    (lambda: sets.SetEncoder(2, 3), lambda: sets.SetEncoder(2, 3, 64, 1, "deepsets", "sum",
                                                            128, 4, None)),
    (lambda: sets.SetDecoder(3, 4, 2), lambda: sets.SetDecoder(3, 4, 2, 256, 2, "mlp",
                                                               "linear")),
    (lambda: signals.MLPEncoder(), lambda: signals.MLPEncoder(1, 64, 16, 256)),
    (lambda: points.PointCloudEncoder(3, 4), lambda: points.PointCloudEncoder(
        3, 4, 0, 64, 0, "sorted", 256, True, None, False, 0.0, True, "axis", 3)),
], ids=["GraphEncoder", "C4Encoder", "ConvEncoder", "SetEncoder", "SetDecoder", "MLPEncoder",
        "PointCloudEncoder"])
def test_defaults_are_the_documented_ones(build, explicit):
    """Building with no arguments equals building with the documented defaults spelled out
    (parameter shapes, and the attributes that are not parameters)."""
    a, b = build(), explicit()
    assert _shapes(a) == _shapes(b)
    for attr in ("gate", "blend_train", "output", "walks", "n_ref"):
        assert getattr(a, attr, None) == getattr(b, attr, None)
    assert repr(a) == repr(b)


def test_more_defaults():
    assert graph_pose.GraphPermutationPose().tau == 1.0
    assert isinstance(graphs.GraphEncoder().code_norm, graphs._CodeNorm)
    assert isinstance(sets.mlp([2, 3, 4])[-1], torch.nn.Linear)  # no activation after the last
    assert isinstance(sets.mlp([2, 3, 4], last_act=True)[-1], torch.nn.SiLU)
    conv = images.ConvEncoder()
    strides = [m.stride for m in conv.modules() if isinstance(m, torch.nn.Conv2d)]
    assert strides == [(2, 2), (2, 2), (1, 1)]
    plain = signals.MLPEncoder(hidden=8)
    assert [m.out_features for m in plain.modules() if isinstance(m, torch.nn.Linear)] == [8, 8,
                                                                                           16]
    circular = signals.CircularEncoder()
    assert circular.symmetry.group.name == "Z64"
    assert circular.symmetry.note == "exact under integer shifts: z invariant, y shifts along"
    free = signals.CircularEncoder(length=None)
    assert free.symmetry.group_for(torch.zeros(2, 1, 12)).name == "Z12"
    with pytest.raises(ValueError, match=r"^set: mask must have shape \(batch, n_elements\) = "):
        sets.check_set(torch.zeros(2, 3, 1), torch.ones(3, 2, dtype=torch.bool))


def test_masks_zero_padded_rows_and_pairs():
    x = torch.arange(2 * 3 * 3 * 2, dtype=F64).reshape(2, 3, 3, 2) + 1
    mask = torch.tensor([[True, True, False], [True, False, True]])
    assert masked_rows(x, None) is x
    rows = masked_rows(x, mask)
    assert torch.equal(rows, x * mask[:, :, None, None])
    pairs = masked_rows(x, mask, pairs=True)
    assert torch.equal(pairs, x * (mask[:, :, None] & mask[:, None, :])[..., None])
    flat = masked_rows(x[..., 0], mask, pairs=True)
    assert torch.equal(flat, x[..., 0] * (mask[:, :, None] & mask[:, None, :]))


def test_sorting_helpers_move_rows_pairs_and_integer_parts():
    perm = torch.tensor([[2, 0, 1], [1, 2, 0]])
    matrix = torch.zeros(2, 3, 3, dtype=F64)
    matrix[torch.arange(2)[:, None], torch.arange(3)[None], perm] = 1.0  # S[r, perm[r]] = 1
    a = torch.randn(2, 3, 3, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    for c in range(2):
        assert torch.allclose(pose_perm.unsort_graph(matrix, a)[..., c],
                              matrix.transpose(1, 2) @ a[..., c] @ matrix)
    types = torch.tensor([[7, 8, 9], [4, 5, 6]])
    sorted_types = pose_perm.sort_parts(matrix, types)
    assert sorted_types.dtype == torch.long
    assert sorted_types.tolist() == [[9, 7, 8], [5, 6, 4]]
    mask = torch.tensor([[True, False, True], [True, True, False]])
    assert pose_perm.sort_parts(matrix, mask).dtype == torch.bool


def test_turning_and_shifting_helpers():
    v = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=F64)
    turned = pose_so2.turn_vector(torch.tensor([math.pi / 2, math.pi / 2], dtype=F64), v)
    assert torch.allclose(turned, torch.tensor([[0.0, 1.0], [-2.0, 0.0]], dtype=F64),
                          atol=1e-15)
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]], dtype=F64)
    b = torch.tensor([[0.0, 3.0], [-1.0, -1.0], [1.0, 1.0]], dtype=F64)
    assert torch.allclose(pose_so2.vector_angle_deg(a, b),
                          torch.tensor([90.0, 180.0, 45.0], dtype=F64))
    act = pose_so2.shift_by_angle(8)
    assert (act.name, act.exact, act.groups) == ("shift_by_angle", False, ("SO2",))
    x = torch.randn(2, 1, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    quarter = torch.full((2,), math.pi / 2, dtype=F64)  # 2 of 8 cells
    assert torch.allclose(act(quarter, x), torch.roll(x, 2, dims=-1), atol=1e-12)
    assert act.accepts(type("G", (), {"name": "SO(2)"})())
    assert pose_frames._smooth_cutoff(torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=F64)) \
        .tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]


def test_c4_actions_on_stacks_of_vectors():
    """c4_vector_action turns every vector of a (batch, m, 2) stack by quarter turns."""
    v = torch.randn(3, 4, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    k = torch.tensor([0, 1, 3])
    out = images.c4_vector_action(k, v)
    for i in range(3):
        angle = math.pi / 2 * int(k[i])
        rot = torch.tensor([[math.cos(angle), -math.sin(angle)],
                            [math.sin(angle), math.cos(angle)]], dtype=F64)
        assert torch.allclose(out[i], v[i] @ rot.T, atol=1e-15)


def test_pose_heads_carry_their_mask_penalty_and_inverse():
    from quotient.nn.pose_perm import sort_rows

    head = pose_perm.PermutationPose().eval()
    scores = torch.tensor([[0.3, 0.9, 0.1], [0.5, 0.2, 0.8]], dtype=F64)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    pose = head(scores, mask)
    assert torch.equal(pose.mask, mask) and list(pose.penalties) == ["perm_entropy"]
    x = torch.randn(2, 3, 2, dtype=F64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(pose.invert(x), sort_rows(pose.matrix, x))
    assert torch.allclose(pose.apply(pose.invert(x)), x)

    shift = pose_so2.ShiftPoseHead()
    # odd length: real shifts compose exactly (no Nyquist term)
    y = torch.randn(2, 9, dtype=F64, generator=torch.Generator().manual_seed(4))
    pose = shift(y)
    signal = torch.randn(2, 1, 9, dtype=F64, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(pose.apply(signal), pose_so2.fourier_shift(pose.element, signal))
    assert torch.allclose(pose.invert(pose.apply(signal)), signal, atol=1e-12)


def test_rigid_pose_helpers():
    enc = points.PointCloudEncoder(3, 4).double().eval()
    _, feats = enc(torch.randn(2, 4, 3, dtype=F64, generator=torch.Generator().manual_seed(6)))
    assert pose_rigid.rigid_group_of_features(True)(feats).name == "SE(3) × S4"
    assert pose_rigid.rigid_group_of_features(False)(feats).name == "E(3) × S4"
    g = SE3().sample(2, generator=torch.Generator().manual_seed(7))
    order = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3]])
    moved = g.clone()
    moved[:, :3, 3] += 1.0
    same = pose_rigid.rigid_pose_mismatch((g, order), (g, order))
    assert all(float(v.abs().max()) == 0.0 for v in same.values())
    shifted = pose_rigid.rigid_pose_mismatch((moved, order), (g, order.flip(0)))
    assert float(shifted["rotation"].abs().max()) == 0.0
    assert torch.allclose(shifted["translation"], 3 ** 0.5 / g[:, :3, 3].norm(dim=1))
    assert shifted["order"].tolist() == [1.0, 1.0]


def test_deep_sets_pool_by_the_mean_by_default():
    """The default context is the mean over real elements: a set and the same set listed twice
    give each element the same output (a sum would double the context)."""
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 3, 2, dtype=F64, generator=gen)
    twice = torch.cat([x, x], 1)
    mean = sets.DeepSetsLayer(2, 4).double()
    assert torch.allclose(mean(x), mean(twice)[:, :3])
    total = sets.DeepSetsLayer(2, 4, pool="sum").double()
    assert not torch.allclose(total(x), total(twice)[:, :3])


def test_the_so2_pose_turns_by_quarter_turns_exactly():
    from quotient.actions import disc_mask

    head = pose_so2.SO2PoseHead()
    v = torch.tensor([[0.0, 2.0], [-1.0, 0.0]], dtype=F64)  # 90° and 180°
    pose = head(v)
    assert torch.allclose(pose.element, torch.tensor([math.pi / 2, math.pi], dtype=F64))
    canonical = torch.rand(2, 1, 8, 8, dtype=F64, generator=torch.Generator().manual_seed(9)) \
        * disc_mask(8, 8, dtype=F64)
    turned = pose.apply(canonical)
    for i, k in enumerate((1, 2)):
        assert torch.allclose(turned[i], torch.rot90(canonical[i], k, dims=(-2, -1)),
                              atol=1e-12)
    assert torch.allclose(pose.invert(turned), canonical, atol=1e-12)


def test_graph_helpers_sort_and_permute_every_part():
    from quotient.actions import permute_graph, permute_set

    perm = torch.tensor([[2, 0, 1], [1, 2, 0]])
    matrix = torch.zeros(2, 3, 3, dtype=F64)
    matrix[torch.arange(2)[:, None], torch.arange(3)[None], perm] = 1.0
    gen = torch.Generator().manual_seed(10)
    adj = torch.randn(2, 3, 3, dtype=F64, generator=gen)
    mask = torch.tensor([[True, True, False], [True, False, True]])
    assert torch.allclose(graph_pose.sort_graph(matrix, adj),
                          matrix @ adj @ matrix.transpose(1, 2))
    a, m = graph_pose.sort_graph(matrix, (adj, mask))
    assert torch.allclose(a, matrix @ adj @ matrix.transpose(1, 2))
    assert torch.equal(m, pose_perm.sort_parts(matrix, mask))
    feats = graphs.GraphFeatures(torch.randn(2, 3, 3, 2, dtype=F64, generator=gen),
                                 torch.randn(2, 3, 4, dtype=F64, generator=gen), mask,
                                 encoder=None)
    moved = graphs.graph_features_action(perm, feats)
    assert torch.equal(moved.edge, permute_graph(perm, feats.edge))
    assert torch.equal(moved.node, permute_set(perm, feats.node))
    assert torch.equal(moved.mask, permute_set(perm, mask)) and moved.encoder is None


def test_c4_convolutions_keep_the_size_and_add_one_bias_per_field():
    x = torch.randn(2, 1, 9, 9, dtype=F64, generator=torch.Generator().manual_seed(11))
    for k in (3, 5, 7):
        lift = images.C4LiftConv(1, 2, kernel_size=k).double()
        assert lift(x).shape == (2, 8, 9, 9)
        group = images.C4GroupConv(2, 3, kernel_size=k).double()
        assert group(lift(x)).shape == (2, 12, 9, 9)
    lift = images.C4LiftConv(1, 2).double()
    with torch.no_grad():
        lift.weight.zero_()
        lift.bias.copy_(torch.tensor([1.5, -2.0], dtype=F64))
    out = lift(x)
    assert torch.equal(out[:, :4], torch.full_like(out[:, :4], 1.5))
    assert torch.equal(out[:, 4:], torch.full_like(out[:, 4:], -2.0))
