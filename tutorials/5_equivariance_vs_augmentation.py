# %% [markdown]
# # Equivariance versus augmentation on your own CNN
#
# `quotient.dynamics` answers, for *your* network: is there an equivariant subspace `E` of its
# weights, is its weight space compatible with the group action (then augmented training
# started in `E` stays there), and what happens under nominal (NOM), augmented (AUG) and
# equivariant (EQUI) training. See [Equivariance versus augmentation](../dynamics.md) for the
# theory (Nordenfors, Ohlsson & Flinth, 2025).
#
# `convert` turns a plain `nn.Sequential` into the same function with subspace layers, given how
# the group acts on its inputs, hidden channels and output.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from quotient.actions import rot90_image
from quotient.dynamics import (
    AUG,
    EQUI,
    NOM,
    Objective,
    Symmetry,
    compare_strategies,
    compatibility_report,
    convert,
    distance_to_E,
    project_to_E,
)
from quotient.groups import CyclicGroup
from quotient.train import seeded

c4 = CyclicGroup(4)
gen = torch.Generator().manual_seed(1)
x = torch.randn(16, 1, 7, 7, dtype=torch.float64, generator=gen)
y = torch.randint(3, (16,), generator=gen)


def my_cnn(seed: int) -> nn.Sequential:
    """Your network: any plain Conv2d / Linear / pointwise stack."""
    with seeded(seed):
        return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Tanh(),
                             nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).double()


net = convert(my_cnn(0), c4, input="trivial", hidden="regular", output="trivial",
              spatial=rot90_image, input_shape=(1, 7, 7))
print(compatibility_report(net).table())

# %% [markdown]
# The projection onto `E` makes the network exactly invariant; its distance from `E` is 0.

# %%
print("distance from E before:", float(distance_to_E(net)))
project_to_E(net)
print("distance from E after: ", float(distance_to_E(net)))

# %% [markdown]
# `compare_strategies` trains NOM, AUG (all four rotations of every sample) and EQUI from the
# same start in `E`, per seed, and records the distance of the weights from `E` at every step.

# %%
def build(seed: int) -> Objective:
    model = convert(my_cnn(seed), c4, input="trivial", hidden="regular", output="trivial",
                    spatial=rot90_image, input_shape=(1, 7, 7))
    return Objective(model, F.cross_entropy, x, y, Symmetry(c4, rot90_image))


comparison = compare_strategies(build, [NOM, AUG, EQUI], seeds=[0, 1], steps=25, lr=0.1)
for label, runs in comparison.curves("distance").items():
    print(f"{label}: final distance from E {max(r[-1] for r in runs):.2e}")

# %% [markdown]
# Nominal training leaves `E`; on this compatible weight space augmented training stays in it
# (up to float rounding), like equivariant training.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for label, runs in comparison.curves("distance").items():
    worst = [max(values) for values in zip(*runs, strict=True)]
    ax.semilogy(comparison.steps, [max(v, 1e-18) for v in worst], label=label)
ax.set_xlabel("step")
ax.set_ylabel("distance from E (worst seed)")
ax.set_title("NOM leaves E; AUG and EQUI stay")
ax.legend()
fig.tight_layout()
