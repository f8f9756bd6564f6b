"""The learned pose as a canonicaliser: a plain CNN classifier on rotated MNIST, four ways.

    python benchmarks/canonicalize.py                 # trains the GIAE first (rotated-mnist)
    python benchmarks/canonicalize.py --giae runs/rot # or reuses a trained run (quotient.load)
    python benchmarks/canonicalize.py --quick         # tiny settings (checks the script)

On the bundled rotated-MNIST split (8,000 / 2,000 digits, each turned by a random angle), one
small CNN architecture is trained

* ``canonicalised``: on the GIAE's canonical digits, ``f(ψ(x)⁻¹·x)`` (``quotient.models.
  Canonicalized``, the GIAE frozen);
* ``raw``: on the rotated digits as they are;
* ``augmented``: on the rotated digits, each batch turned again by random angles;
* ``c4-equivariant``: the GIAE's C4 group-CNN encoder (half its widths) with a linear head, an
  exactly quarter-turn invariant classifier of similar size;

with the same optimiser, steps and seed. Reported per model: test accuracy, the invariance of
its logits (``‖f(g·x) − f(x)‖`` over the logits' spread) under quarter turns (exact group) and
under random angles, its parameters and training time. Writes
``benchmarks/results/canonicalize.json``; ``python benchmarks/make_table.py`` puts it in the
README.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "canonicalize.json"


def plain_cnn(channels: int = 16) -> nn.Module:
    """Two conv blocks and a linear head for 1×28×28 digits: not invariant on its own."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * channels * 49, 64), nn.ReLU(), nn.Linear(64, 10))


def c4_classifier() -> nn.Module:
    """The C4 group-CNN encoder (invariant code) with a linear head."""
    from quotient.nn.image_encoder import C4Encoder

    class C4Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = C4Encoder(1, 64, (4, 8, 16), 3, 28, True)  # ~1.1x the CNN
            self.head = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(x)[0])

    return C4Classifier()


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int,
                     augment: bool, seed: int) -> tuple[nn.Module, float]:
    """Adam, batch 64, ``steps`` steps, cross-entropy; returns the model and its seconds."""
    from quotient.models.baselines import random_rotation
    from quotient.train import TensorDictDataset, TrainConfig, fit

    def loss(net: nn.Module, batch: dict[str, torch.Tensor], ctx: Any) -> tuple[Any, dict]:
        xb = random_rotation(batch["x"], ctx.generator) if augment else batch["x"]
        value = nn.functional.cross_entropy(net(xb), batch["y"])
        return value, {"ce": float(value.detach())}

    cfg = TrainConfig(epochs=10_000, batch_size=64, lr=2e-3, optimizer="adam", max_steps=steps,
                      checkpoint_every=0, progress=False, seed=seed, device="cpu")
    result = fit(model, loss, TensorDictDataset(x=x, y=y), cfg)
    return result.model.eval(), result.train_seconds


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy and the logits' invariance under quarter turns and random angles."""
    from quotient.actions import rot90_image, rotate_image
    from quotient.metrics import apply_batched, invariance_error

    with torch.no_grad():
        acc = float((apply_batched(model, x).argmax(1) == y).double().mean())
    n = x.shape[0]
    gen = torch.Generator().manual_seed(1)
    angles = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi).float()
    quarter = max(invariance_error(model, x, rot90_image, torch.full((n,), k), reduce="max")
                  for k in (1, 2, 3))
    return {"accuracy": acc, "inv_err_quarter_turns": quarter,
            "inv_err_any_angle": invariance_error(model, x, rotate_image, angles)}


def trained_giae(path: Path | None, quick: bool) -> tuple[nn.Module, float]:
    """A trained rotated-mnist GIAE: loaded from ``path``, or trained now (default settings)."""
    import quotient

    if path is not None:
        return quotient.load(path).model, float("nan")
    from quotient.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "giae"
        extra = ["train.max_steps=40", "plots=false", "check_samples=100"] if quick else []
        started = time.perf_counter()
        if main(["train", "rotated-mnist", "--out", str(out), "--set",
                 "train.progress=false", *extra]) != 0:
            raise SystemExit("training the GIAE failed")
        return quotient.load(out).model, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    from quotient.data.rotated_mnist import load_rotated_mnist_sample
    from quotient.models import Canonicalized
    from quotient.train import count_parameters, seeded

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--giae", type=Path, default=None, help="a trained rotated-mnist run")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per classifier")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    steps = 30 if args.quick else args.steps
    data = load_rotated_mnist_sample(n_train=8000, n_test=2000, seed=0)
    x, y, xt, yt = data.train.images, data.train.labels, data.test.images, data.test.labels
    if args.quick:
        x, y, xt, yt = x[:512], y[:512], xt[:256], yt[:256]
    giae, giae_seconds = trained_giae(args.giae, args.quick)
    giae = giae.float().eval()
    results: dict[str, dict[str, Any]] = {}
    for kind in ("canonicalised", "raw", "augmented", "c4-equivariant"):
        with seeded(0):
            model = c4_classifier() if kind == "c4-equivariant" else plain_cnn()
        if kind == "canonicalised":
            model = Canonicalized(giae, model)
        print(f"canonicalize: training {kind} ...", flush=True)
        model, seconds = train_classifier(model, x, y, steps=steps, augment=kind == "augmented",
                                          seed=0)
        trainable = model.model if isinstance(model, Canonicalized) else model
        results[kind] = {**evaluate(model, xt, yt), "train_seconds": seconds,
                         "n_params": count_parameters(trainable)}
        print(f"  {kind}: {results[kind]}", flush=True)
    rows = [{"task": "rotated MNIST (8k/2k sample)", "method": f"CNN, {kind}",
             "metric": "test accuracy", "value": r["accuracy"],
             "note": (f"inv. err. quarter turns {r['inv_err_quarter_turns']:.2g}, any angle "
                      f"{r['inv_err_any_angle']:.2g}; {r['n_params']} params; "
                      f"{r['train_seconds']:.0f} s")}
            for kind, r in results.items()]
    # the canonicaliser's own figures (reconstruction, kNN, invariance of z), from its run
    giae_metrics = (json.loads((args.giae / "metrics.json").read_text())
                    if args.giae is not None and (args.giae / "metrics.json").is_file() else None)
    payload = {"benchmark": "canonicalize", "steps": steps, "quick": args.quick,
               "giae_seconds": giae_seconds, "giae_metrics": giae_metrics, "results": results,
               "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                           "python": platform.python_version(), "torch": torch.__version__},
               "readme_rows": [] if args.quick else rows}
    from quotient.train.io import atomic_write_text

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
