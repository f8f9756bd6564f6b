# %% [markdown]
# # Your own point clouds (or sets)
#
# A point cloud is a set: its points have no order, and it may sit anywhere in space in any
# orientation. The `points` experiment learns a code invariant to both — rigid motions SE(d)
# (or E(d) with reflections) and permutations S_n — and a pose that undoes them. The file is an
# `.npz` with `points` `(N, n, 2 or 3)`, optionally `mask`, `types` and `labels` (see
# [Your own data](../own_data.md)); sets of feature vectors work the same way with
# `quotient train sets` and `elements`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import quotient
from quotient.cli import main

rng = np.random.default_rng(0)
n_clouds, n_points = 96, 8
angles = np.linspace(0, 2 * np.pi, n_points, endpoint=False)
shapes = []
for i in range(n_clouds):  # two classes: stretched rings and noisy blobs
    if i % 2 == 0:
        cloud = np.stack([1.6 * np.cos(angles), 0.6 * np.sin(angles)], axis=1)
    else:
        cloud = rng.normal(size=(n_points, 2)) * 0.7
    shapes.append(cloud + 0.05 * rng.normal(size=cloud.shape))
points = np.stack(shapes)
labels = np.arange(n_clouds) % 2
np.savez("my_clouds.npz", points=points, labels=labels)
print(points.shape)

# %%
tiny = ["train.batch_size=16", "train.max_steps=40", "train.progress=false", "latent_dim=4",
        "hidden=16", "decoder_hidden=32", "code_hidden=32", "plots=false"]
status = main(["train", "points", "--out", "runs/clouds", "--set", "data=my_clouds.npz", *tiny])
print("exit status", status)

# %% [markdown]
# The trained model puts every cloud into a canonical position and order. A cloud moved by a
# random rotation, translation and relabelling of its points lands on the same canonical form.

# %%
run = quotient.load("runs/clouds")
model = run.model.double()
cloud, real = (t[:1] for t in run.data().test)
cloud = cloud.double()
theta = 1.1
rotation = torch.tensor([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
order = torch.randperm(cloud.shape[1])
moved = (cloud @ rotation.T + torch.tensor([2.0, -1.0]))[:, order]
with torch.no_grad():
    canonical, _ = model.canonicalize((cloud, real))
    canonical_moved, _ = model.canonicalize((moved, real[:, order]))
print("canonical forms agree to", float((canonical[0] - canonical_moved[0]).abs().max()))

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
axes[0].scatter(*cloud[0].T, label="cloud")
axes[0].scatter(*moved[0].T, marker="x", label="moved and relabelled")
axes[0].set_title("inputs")
axes[1].scatter(*canonical[0][0].T, s=80, label="canonical form of the cloud")
axes[1].scatter(*canonical_moved[0][0].T, marker="x", label="canonical form of the moved copy")
axes[1].set_title("canonical forms coincide")
for ax in axes:
    ax.set_aspect("equal")
    ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# The invariant codes of the test clouds, coloured by class: rings and blobs separate although
# the model never saw a label.

# %%
test_points, test_real = run.data().test
with torch.no_grad():
    z = model.embed((test_points.double(), test_real))
z2 = torch.pca_lowrank(z - z.mean(0), q=2)[0] if z.shape[1] > 2 else z
fig, ax = plt.subplots(figsize=(4, 3.2))
ax.scatter(z2[:, 0], z2[:, 1], c=run.data().test_labels, cmap="coolwarm")
ax.set_title("codes z of test clouds (PCA)")
fig.tight_layout()
