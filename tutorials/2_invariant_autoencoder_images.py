# %% [markdown]
# # An invariant autoencoder for your own images
#
# [Your own data](../own_data.md) describes the file formats: for images, an `.npz` with
# `images` `(N, H, W)` (uint8 or floats in [0, 1], square) and `labels` `(N,)`. The command
# line trains on it with `--set data=FILE.npz`; here we do the same from Python with tiny
# settings, then look at what the model learned: its reconstructions, its canonical images and
# the invariance of its code.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import quotient
from quotient.cli import main
from quotient.data import load_mnist_sample

digits = load_mnist_sample()  # the bundled MNIST sample, (N, 1, 28, 28) floats in [0, 1]
pick = np.random.default_rng(0).choice(len(digits.labels), size=160, replace=False)
images = (digits.images[pick, 0].numpy() * 255).astype(np.uint8)
labels = digits.labels[pick].numpy()
np.savez("my_images.npz", images=images, labels=labels)
print(images.shape, images.dtype, labels[:10])

# %% [markdown]
# Train the SO(2)-invariant autoencoder of `rotated-mnist` on the file (the digits are turned
# by random angles first; `rotate_data=false` if yours already are). A real run uses the
# defaults; these settings only keep the tutorial fast.

# %%
tiny = ["widths=4,8", "decoder_widths=16,8,8", "latent_dim=8", "train.batch_size=16",
        "train.max_steps=40", "train.progress=false", "embedding=pca", "check_samples=16",
        "threads=1"]
status = main(["train", "rotated-mnist", "--out", "runs/mine", "--set", "data=my_images.npz",
               *tiny])
print("exit status", status)

# %% [markdown]
# `quotient.load` gives back the trained model, its settings, metrics and data split.

# %%
run = quotient.load("runs/mine")
print(run.experiment, "step", run.step)
print({k: round(v, 4) for k, v in run.metrics.items()
       if k in ("rec_mse", "inv_err_exact", "inv_err_any")})
test = run.data().test
x = test[:8] if isinstance(test, torch.Tensor) else test[0][:8]
with torch.no_grad():
    out = run.model(x)

# %% [markdown]
# Inputs, reconstructions `x̂ = ρ(θ)·δ(z)` and canonical images `δ(z)`: after a few steps the
# reconstructions are blurry, but the canonical images already stand the same way whatever the
# input's angle — that is what the pose `θ` takes out.

# %%
rows = {"input": x, "reconstruction": out.reconstruction, "canonical": out.canonical}
fig, axes = plt.subplots(3, 8, figsize=(8, 3.3))
for r, (title, batch) in enumerate(rows.items()):
    for c in range(8):
        axes[r, c].imshow(batch[c, 0].numpy(), cmap="gray")
        axes[r, c].axis("off")
    axes[r, 0].set_title(title, fontsize=8, loc="left")
fig.tight_layout()

# %% [markdown]
# The code is exactly invariant under quarter turns (by construction of the C4 group CNN):

# %%
with torch.no_grad():
    z = run.model.embed(x)
    z_turned = run.model.embed(torch.rot90(x, 1, dims=(-2, -1)))
print("max |z(rot90 x) - z(x)| =", float((z_turned - z).abs().max()))
