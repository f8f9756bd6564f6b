"""convert(): plain networks in, subspace-parametrised networks out — the same function, the
geometry of every layer, projection to exact invariance, export back, and clear refusals."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from quotient.actions import dihedral_image, flip_image, permute_graph, roll_signal, rot90_image
from quotient.dynamics import (
    KernelBasis,
    SubspaceBias,
    SubspaceConv1d,
    SubspaceConv2d,
    SubspaceError,
    SubspaceLinear,
    channel_image_action,
    compatibility_report,
    convert,
    copies,
    distance_to_E,
    export,
    non_orthonormal_kernel_basis,
    project_to_E,
    reverse_signal,
    standard_representation,
    subspace_layers,
)
from quotient.groups import CyclicGroup, DihedralGroup, SymmetricGroup, tensor
from quotient.testing import assert_equivariant, assert_invariant

C4 = CyclicGroup(4)


def c4_cnn(seed: int = 0) -> nn.Sequential:
    """A user's plain C4 CNN: 3×3 convolutions with bias and stride 2, a linear head."""
    torch.manual_seed(seed)  # the plain layers' own initialisation; restored by the fixture
    return nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.Tanh(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 5)).double()


@pytest.fixture(autouse=True)
def _keep_global_rng():
    with torch.random.fork_rng(devices=[]):
        yield


def _images(n: int = 4, size: int = 13, channels: int = 1, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, dtype=torch.float64, generator=gen)


def _same(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float((a(x) - b(x)).abs().max())


@pytest.mark.parametrize("hidden", ["regular", "trivial"])
def test_c4_cnn_converts_exactly_projects_to_invariance_and_exports(hidden):
    plain = c4_cnn()
    x = _images()
    net = convert(plain, C4, input="trivial", hidden=hidden, output="trivial",
                  spatial=rot90_image, input_shape=(1, 13, 13))
    assert _same(net, plain, x) <= 1e-12
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["SubspaceConv2d", "Tanh", "SubspaceConv2d", "ReLU", "Flatten",
                     "SubspaceLinear"]
    assert net[0].stride == (2, 2) and isinstance(net[0].bias_layer, SubspaceBias)
    back = export(net)  # before projection: the user's own network again
    assert [type(m) for m in back] == [type(m) for m in plain]
    for m, p in zip(back, plain, strict=True):
        for (name, a), (_, b) in zip(m.named_parameters(), p.named_parameters(), strict=True):
            assert torch.equal(a, b), name
    with pytest.raises(AssertionError):  # a generic network is not invariant
        assert_invariant(back, C4, rot90_image, x, elements=C4.elements())
    report = compatibility_report(net)
    assert report.total.compatible and report.distance > 1e-2
    assert [r.name for r in report.layers] == ["0", "0.bias_layer", "2", "2.bias_layer", "5",
                                               "5.bias_layer"]
    project_to_E(net)
    assert distance_to_E(net) <= 1e-14
    plain_e = export(net)
    assert not subspace_layers(plain_e)
    assert_invariant(plain_e, C4, rot90_image, x, elements=C4.elements(), tol=1e-10)
    assert _same(plain_e, net, x) <= 1e-14


def test_regular_channel_dimensions_match_the_character_count():
    net = convert(c4_cnn(), C4, input="trivial", hidden="regular", output="trivial",
                  spatial=rot90_image, input_shape=(1, 13, 13))
    rows = {r.name: r for r in compatibility_report(net).layers}
    # 3×3 kernel cells under C4 = trivial ⊕ 2 regular; Hom(1 + 2R, 2R) = 2·(1 + 2·4) = 18
    assert rows["0"].dim_E == 18
    assert rows["0.bias_layer"].dim_E == 2  # one constant per regular copy
    assert rows["2"].dim_E == 8 * 8 * 9 // 4  # regular in and out: the orbits of C4
    assert rows["5"].dim_E == 5 * 8 * 16 // 4 and rows["5.bias_layer"].dim_E == 5


def test_sn_mlp_on_adjacency_matrices():
    s4 = SymmetricGroup(4)
    perm = s4.rep("permutation")
    torch.manual_seed(3)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(5, 4, 4, dtype=torch.float64, generator=gen)
    net = convert(plain, s4, input=tensor(perm, perm), hidden="permutation", output="trivial",
                  input_shape=(4, 4))
    assert _same(net, plain, a) <= 1e-12
    rows = compatibility_report(net).layers
    # Hom_S4(P⊗P, P) = 5 (diagonal, row sums, column sums, total, and the diagonal sum)
    assert [r.dim_E for r in rows] == [2 * 5, 2, 2 * 2, 2]
    project_to_E(net)
    assert_invariant(export(net), s4, permute_graph, a, elements=s4.elements(), tol=1e-10)


def test_conv1d_under_reversal_with_same_padding_and_pools():
    c2 = CyclicGroup(2)
    torch.manual_seed(5)
    plain = nn.Sequential(nn.Conv1d(2, 4, 3, padding="same"), nn.GELU(), nn.AvgPool1d(2),
                          nn.Conv1d(4, 4, 5, stride=2, padding=2), nn.Tanh(),
                          nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(4, 3)).double()
    x = torch.randn(3, 2, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    net = convert(plain, c2, input="trivial", hidden="regular", output="trivial",
                  spatial=reverse_signal, input_shape=(2, 10))
    assert isinstance(net[0], SubspaceConv1d) and net[0].padding == "same"
    assert _same(net, plain, x) <= 1e-12
    project_to_E(net)
    plain_e = export(net)
    assert type(plain_e[0]) is nn.Conv1d and plain_e[0].padding == "same"
    assert_invariant(plain_e, c2, reverse_signal, x, elements=c2.elements(), tol=1e-10)


def test_d4_with_regular_input_channels_pools_and_layer_norm():
    d4 = DihedralGroup(4)
    torch.manual_seed(7)
    plain = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(2),
                          nn.LayerNorm([8, 4, 4], elementwise_affine=False), nn.Sigmoid(),
                          nn.Conv2d(8, 16, 3, padding=0), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(16, 8)).double()
    reg = d4.rep("regular")
    x = _images(3, 8, 8, seed=8)
    net = convert(plain, d4, input="regular", hidden="regular", output="regular",
                  spatial=dihedral_image, input_shape=(8, 8, 8))
    assert _same(net, plain, x) <= 1e-12
    project_to_E(net)
    act = channel_image_action(copies(reg, 1), dihedral_image)
    out = channel_image_action(reg, dihedral_image)
    assert_equivariant(export(net), d4, act, lambda g, y: out(g, y[:, :, None, None])[:, :, 0, 0],
                       x, elements=d4.elements(), tol=1e-10)


def test_spaces_per_layer_and_the_commutator_of_each():
    plain = c4_cnn()
    basis = non_orthonormal_kernel_basis([(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)],
                                         generator=torch.Generator().manual_seed(0))
    net = convert(plain, C4, input="trivial", hidden="regular", output="trivial",
                  spatial=rot90_image, input_shape=(1, 13, 13), weights="project",
                  space={0: "cross", "2": KernelBasis(basis)})
    rows = {r.name: r for r in compatibility_report(net).layers}
    assert rows["0"].dim_L == 8 * 5 and rows["0"].orthonormal and rows["0"].commutator == 0
    assert rows["2"].dim_L == 8 * 8 * 5 and not rows["2"].orthonormal
    assert rows["5"].dim_L == 5 * 128  # linear layers keep the full space
    skew = convert(plain, C4, input="trivial", hidden="trivial", output="trivial",
                   spatial=rot90_image, input_shape=(1, 13, 13), weights="project", space="skew")
    assert compatibility_report(skew).total.commutator == pytest.approx(math.sqrt(3) / 4,
                                                                      abs=1e-12)
    # a user function of the weight shape gives any space (here: the centre tap only)
    centre = torch.zeros(3, 3, dtype=torch.bool)
    centre[1, 1] = True
    from quotient.dynamics import MaskSpace

    only = convert(plain, C4, input="trivial", hidden="trivial", output="trivial",
                   spatial=rot90_image, input_shape=(1, 13, 13), weights="project",
                   space=lambda shape: MaskSpace(shape, centre))
    assert compatibility_report(only).layers[0].dim_L == 8


def test_refusals_name_the_layer_and_the_fix():
    plain = c4_cnn()
    kw = dict(input="trivial", output="trivial", spatial=rot90_image)
    with pytest.raises(SubspaceError, match="multiple of the stride"):
        convert(plain, C4, input_shape=(1, 14, 14), **kw)  # 14 + 2 − 3 is odd
    with pytest.raises(SubspaceError, match=r"layer '0'.*outside the admissible space"):
        convert(plain, C4, input_shape=(1, 13, 13), space="cross", **kw)
    with pytest.raises(SubspaceError, match=r"layer '1' \(BatchNorm2d\).*supports"):
        convert(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)), C4,
                input_shape=(1, 5, 5), **kw)
    with pytest.raises(SubspaceError, match="acts elementwise"):
        convert(plain, C4, input_shape=(1, 13, 13), hidden="standard", **kw)  # 2-d rotations
    loose = convert(plain, C4, input_shape=(1, 13, 13), hidden="standard", strict=False, **kw)
    project_to_E(loose)  # accepted on request, and indeed not invariant (ReLU mixes rotations)
    with pytest.raises(AssertionError):
        assert_invariant(export(loose), C4, rot90_image, _images(), elements=C4.elements())
    with pytest.raises(SubspaceError, match="whole number of copies"):
        convert(nn.Sequential(nn.Conv2d(1, 6, 3, padding=1)), C4, input="trivial",
                output="regular", spatial=rot90_image, input_shape=(1, 5, 5))
    with pytest.raises(SubspaceError, match="groups=2"):
        convert(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=2)), C4, input_shape=(4, 5, 5),
                **kw)
    with pytest.raises(SubspaceError, match="does not rotate or reflect"):
        convert(nn.Sequential(nn.Conv1d(1, 4, 3, padding=1)), CyclicGroup(5), input="trivial",
                output="trivial", spatial=roll_signal, input_shape=(1, 5))
    with pytest.raises(SubspaceError, match="square"):
        convert(plain, C4, input_shape=(1, 13, 15), **kw)
    with pytest.raises(SubspaceError, match=r"keys \['conv1'\] that name no parametrised"):
        convert(plain, C4, input_shape=(1, 13, 13), space={"conv1": "cross"}, **kw)
    with pytest.raises(SubspaceError, match="put an nn.Flatten"):
        convert(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Linear(5, 2)), C4,
                input_shape=(1, 5, 5), **kw)

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x) + x

    with pytest.raises(SubspaceError, match="has its own forward"):
        convert(Custom(), C4, input="trivial", output="trivial")


def test_a_single_layer_nested_sequentials_and_user_representations():
    s3 = SymmetricGroup(3)
    std = standard_representation(s3)  # 2-d: not a permutation representation
    torch.manual_seed(9)
    lin = nn.Linear(4, 6).double()
    one = convert(lin, s3, input=std, output=std)
    assert isinstance(one, SubspaceLinear)
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    assert _same(one, lin, x) <= 1e-12
    one.project_to_E()  # projects the weight and its separate bias
    assert one.distance_to_E() <= 1e-14 and one.bias_layer.distance_to_E() <= 1e-14
    assert one.bias_layer.geometry.dim_E == 0  # the standard representation fixes no vector
    nested = nn.Sequential(nn.Sequential(nn.Linear(3, 6), nn.Tanh()), nn.Linear(6, 1)).double()
    net = convert(nested, s3, input="permutation", hidden="permutation", output="trivial")
    assert isinstance(net[0][0], SubspaceLinear)
    assert [r.name for r in compatibility_report(net).layers][0] == "0.0"
    # flip_image acts on images; a C2 CNN with trivial channels keeps the kernel's mirror pairs
    c2 = CyclicGroup(2)
    conv = convert(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False)).double(), c2,
                   input="trivial", output="trivial", spatial=flip_image, input_shape=(1, 4, 4))
    assert isinstance(conv[0], SubspaceConv2d) and conv[0].geometry.dim_E == 2 * 6
