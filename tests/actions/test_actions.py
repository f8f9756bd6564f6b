"""Actions compose like the group: act(g, act(h, x)) = act(gh, x); and bad input is refused."""

import math

import pytest
import torch

from quotient.actions import (
    Action,
    act_molecule,
    compose_permutations,
    compose_rigid_permutations,
    dihedral_image,
    disc_mask,
    flip_image,
    identity_action,
    permute_graph,
    permute_set,
    reverse_signal,
    rigid_motion,
    rigid_motion_and_permute_points,
    roll_image,
    roll_signal,
    rot90_image,
    rotate_image,
    rotate_points,
    translate_points,
)
from quotient.groups import (
    E3,
    O3,
    SE3,
    SO2,
    SO3,
    CyclicGroup,
    CyclicShifts,
    CyclicShifts2d,
    DihedralGroup,
    SymmetricGroup,
    Translations,
    permutation_matrix,
    product,
)

B = 6


def _images(gen):
    return torch.rand(B, 2, 9, 9, dtype=torch.float64, generator=gen)


CASES = [
    ("rot90", CyclicGroup(4), rot90_image, _images),
    ("flip", CyclicGroup(2), flip_image, _images),
    ("dihedral", DihedralGroup(4), dihedral_image, _images),
    ("roll_image", CyclicShifts2d(9, 9), roll_image, _images),
    ("roll_signal", CyclicShifts(11), roll_signal,
     lambda gen: torch.randn(B, 3, 11, dtype=torch.float64, generator=gen)),
    ("permute_set", SymmetricGroup(7), permute_set,
     lambda gen: torch.randn(B, 7, 4, dtype=torch.float64, generator=gen)),
    ("permute_graph", SymmetricGroup(5), permute_graph,
     lambda gen: torch.randn(B, 5, 5, dtype=torch.float64, generator=gen)),
    ("rotate_points", O3(), rotate_points,
     lambda gen: torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)),
    ("translate_points", Translations(3), translate_points,
     lambda gen: torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)),
    ("rigid_motion", E3(), rigid_motion,
     lambda gen: torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)),
    ("rigid+perm", product(SE3(), SymmetricGroup(5)), rigid_motion_and_permute_points,
     lambda gen: torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)),
]


@pytest.mark.parametrize("name,group,act,make", CASES, ids=[c[0] for c in CASES])
def test_exact_actions_compose(name, group, act, make, gen):
    assert act.exact
    x = make(gen)
    g, h = group.sample(B, generator=gen), group.sample(B, generator=gen)
    lhs = act(g, act(h, x))
    rhs = act(group.compose(g, h), x)
    assert torch.allclose(lhs, rhs, atol=1e-12), name
    assert torch.allclose(act(group.identity(B), x), x, atol=1e-12)
    # the action really moves data (not the identity)
    assert not torch.allclose(act(group.sample(B, generator=gen), x), x)


def test_permutations_match_matrices(gen):
    group = SymmetricGroup(6)
    g = group.sample(B, generator=gen)
    x = torch.randn(B, 6, 2, dtype=torch.float64, generator=gen)
    p = permutation_matrix(g)
    assert torch.allclose(permute_set(g, x), p @ x)
    a = torch.randn(B, 6, 6, dtype=torch.float64, generator=gen)
    assert torch.allclose(permute_graph(g, a), p @ a @ p.transpose(1, 2))


def test_cyclic_shift_matches_representation_and_roll(gen):
    group = CyclicShifts(8)
    k = group.sample(B, generator=gen)
    x = torch.randn(B, 1, 8, dtype=torch.float64, generator=gen)
    mats = group.representation(k)
    assert torch.allclose(roll_signal(k, x)[:, 0], (mats @ x[:, 0, :, None])[..., 0])
    assert torch.equal(roll_signal(k[:1], x[:1]), torch.roll(x[:1], int(k[0]), dims=-1))


def test_dihedral_flip_matches_standard_representation():
    """The image flip realises s = diag(1, −1) on (x right, y up) pixel coordinates."""
    img = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    img[0, 0, 0, 4] = 1.0  # top-right pixel: (x, y) = (2, 2)
    out = dihedral_image(torch.tensor([[0, 1]]), img)
    assert out[0, 0, 4, 4] == 1.0  # bottom-right: (2, −2)
    rho = DihedralGroup(4).representation(torch.tensor([[1, 1]]))[0]
    p = rho @ torch.tensor([2.0, 2.0], dtype=torch.float64)
    out = dihedral_image(torch.tensor([[1, 1]]), img)
    row, col = 2 - round(float(p[1])), 2 + round(float(p[0]))
    assert out[0, 0, row, col] == 1.0


def test_molecule_action_moves_atoms_and_types_together(gen):
    group = product(E3(), SymmetricGroup(4))
    pos = torch.randn(B, 4, 3, dtype=torch.float64, generator=gen)
    types = torch.randint(1, 9, (B, 4), generator=gen)
    g, h = group.sample(B, generator=gen), group.sample(B, generator=gen)
    p1, t1 = act_molecule(g, act_molecule(h, (pos, types)))
    p2, t2 = act_molecule(group.compose(g, h), (pos, types))
    assert torch.allclose(p1, p2, atol=1e-12) and torch.equal(t1, t2)


def test_rotate_image_agrees_with_rot90_exactly(gen):
    x = torch.rand(B, 1, 28, 28, dtype=torch.float64, generator=gen) * disc_mask(
        28, 28, dtype=torch.float64)
    for k in range(4):
        ang = torch.full((B,), k * math.pi / 2, dtype=torch.float64)
        kk = torch.full((B,), k)
        assert torch.allclose(rotate_image(ang, x), rot90_image(kk, x), atol=1e-12)


def test_rotate_image_is_an_approximate_action_with_measured_error(gen):
    """Bilinear resampling composes only approximately; the error on a smooth image is small
    and reported here. A blurred disc image keeps it low."""
    assert not rotate_image.exact
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    blob = torch.exp(-((xx - 0.3) ** 2 + (yy + 0.1) ** 2) / 0.1).double()
    x = (blob * disc_mask(28, 28, dtype=torch.float64)).expand(B, 1, 28, 28)
    group = SO2()
    g, h = group.sample(B, generator=gen), group.sample(B, generator=gen)
    lhs = rotate_image(g, rotate_image(h, x))
    rhs = rotate_image(group.compose(g, h), x)
    rel = float((lhs - rhs).norm() / rhs.norm())
    assert rel < 0.05, f"measured composition error {rel:.3g}"
    assert rel > 1e-6  # resampling is not exact: if this fails the action became exact


@pytest.mark.parametrize("act,g,x,match", [
    (rot90_image, torch.zeros(2, dtype=torch.long), torch.zeros(2, 9, 9), "batch, channels"),
    (rot90_image, torch.zeros(3, dtype=torch.long), torch.zeros(2, 1, 9, 9), "3 group elements"),
    (rotate_image, torch.zeros(1), torch.zeros(1, 1, 9, 7), "square"),
    (permute_set, torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 5, 3), r"\(batch, 5\)"),
    (permute_graph, torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, 5), "square"),
    (rotate_points, torch.eye(3).expand(2, 3, 3), torch.zeros(2, 4, 2), "dimension 2"),
    (roll_signal, torch.zeros(2, dtype=torch.long), torch.zeros(2, 8), "batch, channels"),
])
def test_bad_input_gets_clear_error(act, g, x, match):
    with pytest.raises(ValueError, match=match):
        act(g, x)


# --- conventions, structures and refusals, exactly (scripts/mutation.py measures these) ---


def test_elements_are_read_modulo_the_group_order(gen):
    """Integer elements are read modulo the order: k and k ± 4 are the same quarter turn, f
    and f + 2 the same flip or reversal."""
    x = _images(gen)
    sig = torch.randn(B, 2, 7, dtype=torch.float64, generator=gen)
    for k in range(4):
        ref = rot90_image(torch.full((B,), k), x)
        assert torch.equal(ref, torch.rot90(x, k, dims=(-2, -1)))
        for same in (k + 4, k - 4, k + 8):
            assert torch.equal(rot90_image(torch.full((B,), same), x), ref)
    for f in range(2):
        for same in (f + 2, f + 4):
            assert torch.equal(flip_image(torch.full((B,), same), x),
                               flip_image(torch.full((B,), f), x))
            assert torch.equal(reverse_signal(torch.full((B,), same), sig),
                               reverse_signal(torch.full((B,), f), sig))
    assert torch.equal(flip_image(torch.ones(B), x), x.flip(-2))
    assert torch.equal(reverse_signal(torch.ones(B), sig), sig.flip(-1))
    assert torch.equal(reverse_signal(torch.zeros(B), sig), sig)
    mixed = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.equal(reverse_signal(mixed, sig)[1], sig[1].flip(-1))
    assert torch.equal(reverse_signal(mixed, sig)[2], sig[2])


def test_reverse_signal_composes_like_c2(gen):
    x = torch.randn(B, 3, 11, dtype=torch.float64, generator=gen)
    group = CyclicGroup(2)
    g, h = group.sample(B, generator=gen), group.sample(B, generator=gen)
    assert torch.equal(reverse_signal(g, reverse_signal(h, x)),
                       reverse_signal(group.compose(g, h), x))


def test_shifts_and_motions_follow_their_formulas(gen):
    """roll_image is torch.roll by (dy, dx) and the grid group's representation;
    translate_points adds t; rigid_motion applies the homogeneous matrix to (x, 1)."""
    x = _images(gen)
    shifts = CyclicShifts2d(9, 9).sample(B, generator=gen)
    rolled = roll_image(shifts, x)
    for i in range(B):
        dy, dx = (int(v) for v in shifts[i])
        assert torch.equal(rolled[i], torch.roll(x[i], (dy, dx), dims=(-2, -1)))
    mats = CyclicShifts2d(9, 9).representation(shifts)
    assert torch.allclose(rolled.reshape(B, 2, 81), x.reshape(B, 2, 81) @ mats.transpose(1, 2))

    pts = torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)
    t = Translations(3).sample(B, generator=gen)
    assert torch.equal(translate_points(t, pts), pts + t[:, None, :])
    g = E3().sample(B, generator=gen)
    homogeneous = torch.cat([pts, torch.ones(B, 5, 1, dtype=torch.float64)], -1)
    expected = (homogeneous @ g.transpose(1, 2))[..., :3]
    assert torch.allclose(rigid_motion(g, pts), expected, atol=1e-12)
    r = O3().sample(B, generator=gen)
    assert torch.allclose(rotate_points(r, pts), (r @ pts.transpose(1, 2)).transpose(1, 2),
                          atol=1e-12)


def test_float32_data_with_float64_elements_stays_float32(gen):
    """Elements come in float64 by default; the actions compute in the data's dtype."""
    pts = torch.randn(B, 5, 3, generator=gen)
    cases = [(rotate_points, SO3()), (translate_points, Translations(3)), (rigid_motion, E3())]
    for act, group in cases:
        g = group.sample(B, generator=gen)
        out = act(g, pts)
        assert out.dtype == torch.float32
        assert torch.allclose(out.double(), act(g, pts.double()), atol=1e-5)
    img = torch.rand(B, 1, 8, 8, generator=gen) * disc_mask(8, 8)
    ang = SO2().sample(B, generator=gen)
    out = rotate_image(ang, img)
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), rotate_image(ang, img.double()), atol=1e-5)


def test_disc_mask_is_the_closed_inscribed_disc():
    """Pixel centres at distance ≤ min(h, w)/2 from the centre; on a 3 × 4 frame the middle
    row's outer centres lie exactly on the circle and are inside."""
    assert torch.equal(disc_mask(3, 4), torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1], [0, 1, 1, 0]],
                                                     dtype=torch.float32))
    five = disc_mask(5, 5, dtype=torch.float64)
    assert five.dtype == torch.float64
    assert torch.equal(five, torch.tensor([[0, 1, 1, 1, 0]] + [[1] * 5] * 3 + [[0, 1, 1, 1, 0]],
                                          dtype=torch.float64))
    assert int(disc_mask(1, 9).sum()) == 1


def test_structured_inputs_move_together(gen):
    """A tuple (set, mask, features) is permuted as a whole; a graph's extra parts are
    permuted as sets; pairwise arrays (b, n, n, c) are permuted channel by channel; points
    that carry per-point features after their coordinates move in space only by their
    coordinates."""
    group = SymmetricGroup(5)
    g = group.sample(B, generator=gen)
    p = permutation_matrix(g)
    x = torch.randn(B, 5, 3, dtype=torch.float64, generator=gen)
    mask = torch.rand(B, 5, generator=gen) < 0.7
    moved = permute_set(g, (x, mask, x[..., 0]))
    assert isinstance(moved, tuple) and len(moved) == 3
    assert torch.allclose(moved[0], p @ x)
    assert torch.equal(moved[1], (p @ mask.double()[..., None])[..., 0].bool())
    assert torch.allclose(moved[2], moved[0][..., 0])

    adj = torch.randn(B, 5, 5, dtype=torch.float64, generator=gen)
    edges = torch.randn(B, 5, 5, 2, dtype=torch.float64, generator=gen)
    a, feats, e = permute_graph(g, (adj, x, edges))
    assert torch.allclose(a, p @ adj @ p.transpose(1, 2))
    assert torch.allclose(feats, p @ x)
    for c in range(2):
        assert torch.allclose(permute_graph(g, edges)[..., c],
                              p @ edges[..., c] @ p.transpose(1, 2))
    assert torch.equal(e, permute_set(g, edges))  # the rest of the tuple moves as sets

    rigid = product(SE3(), group)
    h = rigid.sample(B, generator=gen)
    types = torch.rand(B, 5, 4, dtype=torch.float64, generator=gen)
    rows = torch.cat([x, types], -1)
    out = rigid_motion_and_permute_points(h, rows)
    ph = permutation_matrix(h[1])
    assert torch.allclose(out, ph @ torch.cat([rigid_motion(h[0], x), types], -1), atol=1e-12)
    pts, m = rigid_motion_and_permute_points(h, (x, mask))
    assert torch.allclose(pts, ph @ rigid_motion(h[0], x), atol=1e-12)
    assert torch.equal(m, permute_set(h[1], mask))


def test_poses_compose_as_group_elements(gen):
    """compose_permutations is S_n acting on itself (g∘h), keeping −1 (padding) entries;
    compose_rigid_permutations does the same for (rotation, permutation) pairs, in the dtype of
    the pose it acts on."""
    group = SymmetricGroup(5)
    g, h = group.sample(B, generator=gen), group.sample(B, generator=gen)
    assert torch.equal(compose_permutations(g, h), group.compose(g, h))
    first = torch.tensor([[3, 0, 1, 2, 4]])
    padded = torch.tensor([[0, 2, -1, -1, 1]])
    assert compose_permutations(first, padded).tolist() == [[3, 1, -1, -1, 0]]
    rot = SO3().sample(B, generator=gen)
    pose = (SO3().sample(B, generator=gen).float(), h)
    r, perm = compose_rigid_permutations((rot, g), pose)
    assert r.dtype == torch.float32
    assert torch.allclose(r.double(), rot @ pose[0].double(), atol=1e-6)
    assert torch.equal(perm, group.compose(g, h))


def test_actions_accept_the_groups_they_are_written_for():
    def fn(g, x):
        return x

    assert permute_set.accepts(SymmetricGroup(5)) and permute_set.accepts(SymmetricGroup(12))
    assert not permute_set.accepts(SO3()) and not permute_set.accepts(CyclicGroup(5))
    assert rotate_points.accepts(SO3()) and rotate_points.accepts(O3())
    assert not rotate_points.accepts(SE3())
    assert translate_points.accepts(Translations(3)) and translate_points.accepts(Translations(2))
    assert not translate_points.accepts(SE3())
    assert roll_image.accepts(CyclicShifts2d(4, 5)) and not roll_image.accepts(CyclicShifts(4))
    assert roll_signal.accepts(CyclicShifts(7)) and not roll_signal.accepts(CyclicShifts2d(4, 5))
    assert rigid_motion_and_permute_points.accepts(product(SE3(), SymmetricGroup(5)))
    assert not rigid_motion_and_permute_points.accepts(product(SO3(), SymmetricGroup(5)))
    assert identity_action.accepts(SO3()) and identity_action.accepts("anything")
    cd = Action("cd", fn, exact=True, groups=("Cn", "Dn"))
    assert cd.accepts(CyclicGroup(7)) and cd.accepts(DihedralGroup(3))
    assert not cd.accepts(product(CyclicGroup(4), DihedralGroup(3)))
    assert not cd.accepts(SymmetricGroup(3))
    assert Action("o2", fn, True, ("O(2)",)).accepts(type("G", (), {"name": "O (2)"})())
    with pytest.raises(ValueError) as info:
        rotate_points.check_group(SE3())
    assert str(info.value) == ("rotate_points acts on SO3, O3, SO2 but the group is SE(3): its "
                               "elements would be misread; pass the action of that group (or "
                               "the group this action is written for)")
    with pytest.raises(ValueError, match="rot90_image acts on C4 but the group is C8: its"):
        rot90_image.check_group("C8")  # something without a name is shown as itself
    rot90_image.check_group(CyclicGroup(4))
    assert repr(rot90_image) == "Action(rot90_image, exact, groups=('C4',))"
    assert repr(rotate_image) == "Action(rotate_image, approximate, groups=('SO2',))"


def _batch_message(what, n_elements):
    return (f"{what}: got {n_elements} group elements for a batch of 2 samples; pass one element "
            "per sample (repeat_element / expand the batch)")


def _refusals():
    img, long2, long3 = torch.zeros(2, 1, 5, 5), torch.zeros(2, dtype=torch.long), \
        torch.zeros(3, dtype=torch.long)
    perm2, perm3 = torch.tensor([[1, 0, 2, 3, 4]] * 2), torch.tensor([[1, 0, 2, 3, 4]] * 3)
    eye3, eye4 = torch.eye(3).expand(2, 3, 3), torch.eye(4).expand(2, 4, 4)
    pts = torch.zeros(2, 5, 3)
    rigid = (torch.eye(4).expand(2, 4, 4), perm2)
    nd = "expected shape"
    return [
        (rot90_image, long2, torch.zeros(2, 5, 5),
         f"rot90_image: {nd} (batch, channels, H, W), got (2, 5, 5)"),
        (rot90_image, long3, img, _batch_message("rot90_image", 3)),
        (flip_image, long3, img, _batch_message("flip_image", 3)),
        (rotate_image, torch.zeros(3), img, _batch_message("rotate_image", 3)),
        (rotate_image, torch.zeros(2), img.long(),
         "rotate_image needs a floating-point image, got torch.int64"),
        (rotate_image, torch.zeros(2), torch.zeros(2, 1, 5, 4),
         "rotate_image needs square images, got 5x4; pad them first"),
        (roll_image, torch.zeros(3, 2), img, _batch_message("roll_image", 3)),
        (roll_image, torch.zeros(2, 3), img,
         "roll_image needs shifts of shape (batch, 2), got (2, 3)"),
        (roll_image, long2, img, "roll_image needs shifts of shape (batch, 2), got (2,)"),
        (dihedral_image, long2, img,
         "dihedral_image needs D4 elements of shape (batch, 2), got torch.Size([2])"),
        (permute_set, perm2[:, :4], torch.zeros(2, 5, 3),
         "permute_set: permutations must have shape (batch, 5) to act on 5 elements, "
         "got (2, 4)"),
        (permute_set, perm3, pts, _batch_message("permute_set", 3)),
        (permute_set, perm2, torch.zeros(2), "permute_set: expected shape (batch, n, ...), "
                                             "got (2,)"),
        (permute_graph, perm2, torch.zeros(2, 5, 4),
         "permute_graph: expected square adjacency (batch, n, n) or pairwise arrays "
         "(batch, n, n, ...), got (2, 5, 4)"),
        (permute_graph, perm2, [[0.0]],
         "permute_graph: expected square adjacency (batch, n, n) or pairwise arrays "
         "(batch, n, n, ...), got ()"),
        (permute_graph, perm3, torch.zeros(2, 5, 5), _batch_message("permute_graph", 3)),
        (permute_graph, perm2[:, :4], torch.zeros(2, 5, 5),
         "permute_graph: permutations must have shape (batch, 5) to act on 5 elements, "
         "got (2, 4)"),
        (rotate_points, eye3, torch.zeros(2, 4, 2),
         "rotate_points: points have dimension 2, the group acts on ℝ^3"),
        (rotate_points, torch.eye(3).expand(3, 3, 3), pts, _batch_message("rotate_points", 3)),
        (rotate_points, eye3, torch.zeros(2, 3),
         f"rotate_points: {nd} (batch, n_points, dim), got (2, 3)"),
        (rotate_points, eye3, "points",
         "rotate_points: expected a tensor of shape (batch, n_points, dim), got str"),
        (translate_points, torch.zeros(2, 3), torch.zeros(2, 4, 2),
         "translate_points: points have dimension 2, the group acts on ℝ^3"),
        (translate_points, torch.zeros(3, 3), pts, _batch_message("translate_points", 3)),
        (rigid_motion, eye4, torch.zeros(2, 4, 2),
         "rigid_motion: points have dimension 2, the group acts on ℝ^3"),
        (rigid_motion, torch.eye(4).expand(3, 4, 4), pts, _batch_message("rigid_motion", 3)),
        (roll_signal, long2, torch.zeros(2, 8),
         f"roll_signal: {nd} (batch, channels, length), got (2, 8)"),
        (roll_signal, long3, torch.zeros(2, 1, 8), _batch_message("roll_signal", 3)),
        (roll_signal, torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, 8),
         "roll_signal needs integer shifts of shape (batch,), got torch.Size([2, 1])"),
        (reverse_signal, long2, torch.zeros(2, 8),
         f"reverse_signal: {nd} (batch, channels, length), got (2, 8)"),
        (reverse_signal, long3, torch.zeros(2, 1, 8), _batch_message("reverse_signal", 3)),
        (act_molecule, rigid, [pts, long2],
         "act_molecule needs a molecule (positions (b, n, 3), atom types (b, n))"),
        (act_molecule, rigid, (pts, torch.zeros(2, 4, dtype=torch.long)),
         "act_molecule: atom types (2, 4) do not match positions (2, 5, 3)"),
        (rigid_motion_and_permute_points, eye4, pts,
         "rigid_motion_and_permute_points needs (rigid motion, permutation)"),
        (compose_permutations, perm2, torch.zeros(2, 4, dtype=torch.long),
         "compose_permutations: permutations must have shape (batch, 5) to act on 5 elements, "
         "got (2, 4)"),
    ]


def test_every_refusal_is_one_line_naming_the_action_and_the_fix():
    for act, g, x, message in _refusals():
        with pytest.raises((ValueError, TypeError)) as info:
            act(g, x)
        assert str(info.value) == message, act.name


def test_half_precision_images_stay_half_precision(gen):
    img = torch.rand(B, 1, 8, 8, generator=gen) * disc_mask(8, 8)
    ang = SO2().sample(B, generator=gen)
    for dtype in (torch.float16, torch.bfloat16):
        out = rotate_image(ang, img.to(dtype))
        assert out.dtype == dtype
        assert torch.allclose(out.float(), rotate_image(ang, img), atol=0.05)


def test_few_points_with_features_move_only_their_coordinates(gen):
    """Two points in 3-d, each with four feature columns (fewer points than coordinates)."""
    rigid = product(SE3(), SymmetricGroup(2))
    h = rigid.sample(B, generator=gen)
    pts = torch.randn(B, 2, 3, dtype=torch.float64, generator=gen)
    feats = torch.rand(B, 2, 4, dtype=torch.float64, generator=gen)
    out = rigid_motion_and_permute_points(h, torch.cat([pts, feats], -1))
    expected = permute_set(h[1], torch.cat([rigid_motion(h[0], pts), feats], -1))
    assert torch.allclose(out, expected, atol=1e-12)


def test_group_names_are_compared_without_brackets_spaces_or_times_signs():
    """"Z4 × Z5", "Z4xZ5" and "Z(4)xZ(5)" are the same name."""
    grid = CyclicShifts2d(4, 5)  # named "Z4xZ5"
    for spelled in ("Z4 × Z5", "Z4xZ5", "Z(4) x Z(5)"):
        assert Action("a", lambda g, x: x, True, (spelled,)).accepts(grid), spelled
    assert not Action("a", lambda g, x: x, True, ("Z4 × Z6",)).accepts(grid)
