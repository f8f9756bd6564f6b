# %% [markdown]
# # Canonicalise a classifier with a learned pose
#
# A trained invariant autoencoder knows the pose `ψ(x)` of each input. Putting inputs into
# their canonical pose, `ψ(x)⁻¹·x`, before any classifier makes that classifier invariant —
# without changing its architecture (`quotient.models.Canonicalized`). Exactly so for the
# symmetries the pose is exact for (quarter turns for the C4 group CNN), approximately for the
# rest. Here: train a tiny rotated-MNIST autoencoder, then a small CNN on canonical digits.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import quotient
from quotient.cli import main
from quotient.models import Canonicalized
from quotient.testing import check_module

tiny = ["widths=4,8", "decoder_widths=16,8,8", "latent_dim=8", "n_train=256", "n_test=128",
        "train.batch_size=32", "train.max_steps=30", "train.progress=false", "plots=false",
        "check_samples=16", "threads=1"]
print("exit status", main(["train", "rotated-mnist", "--out", "runs/pose", "--set", *tiny]))
run = quotient.load("runs/pose")
split = run.data()
x_train, y_train = split.train, split.train_labels
x_test, y_test = split.test, split.test_labels

# %% [markdown]
# The classifier: any module on images. With the pose network frozen, its canonical images
# can be computed once and the classifier trained on them; wrapped in `Canonicalized`, it then
# takes raw inputs and canonicalises them itself.

# %%
torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                    nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
with torch.no_grad():
    canonical_train, _ = run.model.canonicalize(x_train)
optimizer = torch.optim.Adam(cnn.parameters(), lr=3e-3)
losses = []
for step in range(120):
    idx = torch.randint(len(x_train), (32,), generator=torch.Generator().manual_seed(step))
    loss = F.cross_entropy(cnn(canonical_train[idx]), y_train[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
classifier = Canonicalized(run.model, cnn).eval()
with torch.no_grad():
    accuracy = float((classifier(x_test).argmax(1) == y_test).double().mean())
print(f"test accuracy: {accuracy:.2f} (256 training digits, 120 steps: a real run does more)")

# %% [markdown]
# The canonicalised classifier declares the autoencoder's symmetry, so `check_module` verifies
# it: invariant to quarter turns to float32 rounding, whatever its weights. The plain CNN is
# not.

# %%
report = check_module(classifier, x_test[:16])
turned = torch.rot90(x_test[:16], 1, dims=(-2, -1))
with torch.no_grad():
    plain_change = float((cnn(turned) - cnn(x_test[:16])).abs().max())
print(f"canonicalised: relative error {report.error:.1e}; plain CNN changes by {plain_change:.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].plot(losses)
axes[0].set_xlabel("step")
axes[0].set_ylabel("cross-entropy")
axes[0].set_title("training the classifier on canonical digits")
with torch.no_grad():
    canonical, _ = run.model.canonicalize(x_test[:6])
grid = torch.cat([torch.cat(list(x_test[:6, 0]), dim=1), torch.cat(list(canonical[:6, 0]), dim=1)])
axes[1].imshow(grid.numpy(), cmap="gray")
axes[1].set_title("test digits (top) and what the classifier sees (bottom)")
axes[1].axis("off")
fig.tight_layout()
