# %% [markdown]
# # Check your own model's equivariance
#
# `quotient.testing` checks a function against a group action on its inputs (and outputs):
# `assert_invariant(f, group, action, x)` evaluates `f(g·x)` and `f(x)` for several group
# elements `g` (all of them for a small finite group) and fails, naming the worst element, when
# the relative error exceeds the tolerance of the dtype (1e-10 in float64, 1e-5 in float32).
#
# Here: a small CNN made invariant to quarter turns by averaging over the four rotated copies
# of its input, the same CNN without the average (which must fail), and a module that declares
# its symmetry so `check_module` knows what to check.

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from quotient.actions import rot90_image, rotate_image
from quotient.groups import SO2, CyclicGroup
from quotient.symmetry import Symmetry
from quotient.testing import assert_invariant, check_module, equivariance_error

torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                    nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).double()
x = torch.rand(16, 1, 12, 12, dtype=torch.float64)


def averaged(images: torch.Tensor) -> torch.Tensor:
    """The CNN averaged over the four quarter turns of its input: C4-invariant by design."""
    return sum(cnn(torch.rot90(images, k, dims=(-2, -1))) for k in range(4)) / 4

# %% [markdown]
# The averaged CNN passes: every non-identity quarter turn leaves its output unchanged up to
# float64 rounding.

# %%
c4 = CyclicGroup(4)
report = assert_invariant(averaged, c4, rot90_image, x, elements=c4.elements())
print(f"averaged CNN: worst relative error {report.error:.1e} (tolerance {report.tolerance:.0e})")

# %% [markdown]
# The plain CNN is not invariant; the assertion says by how much and for which element.

# %%
try:
    assert_invariant(cnn, c4, rot90_image, x, elements=c4.elements())
except AssertionError as failure:
    print("plain CNN fails:", str(failure).splitlines()[0])

# %% [markdown]
# A module can carry its promise as a `symmetry` attribute; `check_module` reads it. This is
# how every equivariant layer of `quotient` is tested.

# %%
class QuarterTurnInvariant(nn.Module):
    """A CNN averaged over quarter turns, declaring its symmetry."""

    symmetry = Symmetry(CyclicGroup(4), rot90_image)

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return sum(self.body(torch.rot90(images, k, dims=(-2, -1))) for k in range(4)) / 4


print("check_module:", check_module(QuarterTurnInvariant(cnn), x).error < 1e-10)

# %% [markdown]
# Invariance to quarter turns does not make a network invariant to *every* angle: measured
# (without asserting) under SO(2) with bilinear resampling the error is far larger. The plot
# shows the per-element errors of each check on a log scale.

# %%
gen = torch.Generator().manual_seed(1)
any_angle = equivariance_error(averaged, SO2(), rotate_image, None, x, n_elements=8,
                               generator=gen)
plain = equivariance_error(cnn, c4, rot90_image, None, x, elements=c4.elements())
exact = equivariance_error(averaged, c4, rot90_image, None, x, elements=c4.elements())

fig, ax = plt.subplots(figsize=(6, 3))
for label, rep in (("averaged CNN, quarter turns", exact), ("plain CNN, quarter turns", plain),
                   ("averaged CNN, any angle", any_angle)):
    ax.semilogy(range(len(rep.errors)), rep.errors.clamp_min(1e-17), "o-", label=label)
ax.set_xlabel("group element tested")
ax.set_ylabel("relative error")
ax.set_title("invariance errors per group element")
ax.legend(fontsize=8)
fig.tight_layout()
