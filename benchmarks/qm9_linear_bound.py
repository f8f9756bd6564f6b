"""Diagnostic for the qm9 autoencoder: how well would a *linear* code and decoder (principal
components of the canonical coordinates) reconstruct held-out molecules, given a trained
model's frame and atom order?

For a finished ``quotient train qm9`` run, the training and test molecules are put into canonical
pose with the model (``GIAE.canonicalize``: frame coordinates ``Rᵀ(x − t)`` in the sorted order,
``(N, 29, 3)``), principal components are fitted on ``--n-fit`` training molecules, and each test
molecule is projected on the first ``k`` of them and back; the figure is the mean over test
molecules of the RMSD over their real atoms (Å, in the canonical frame, no Procrustes step;
coordinates only, elements not counted). The docs quote it for an MLP-only run at step 7,000:
1.24 / 0.75 / 0.39 / 0.05 Å for k = 16 / 32 / 48 / 64 — the observation behind the linear
paths of ``quotient.models.qm9_giae.LinearPlusMLP``.

Usage::

    python benchmarks/qm9_linear_bound.py RUN_DIR [--n-fit 10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    from quotient.experiments.qm9 import QM9Config, build_model, load_data
    from quotient.metrics.sets import rmsd
    from quotient.train import RunDir, load_model_state
    from quotient.train.settings import config_from_dict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--n-fit", type=int, default=10_000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    raw = json.loads((args.run / "config.json").read_text())["config"]
    raw.pop("property", None)  # runs written before `properties`
    cfg = dataclasses.replace(config_from_dict(QM9Config, raw),
                              properties=("HOMO_LUMO_gap_au",))
    split = load_data(cfg)
    model = build_model(cfg, split)
    step = load_model_state(RunDir.open(args.run), model)["step"]
    model.eval()

    def canonical(x: tuple[torch.Tensor, torch.Tensor], n: int) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model.canonicalize(tuple(p[i:i + 500] for p in x))[0][0].double()
                              for i in range(0, n, 500)])

    n_fit = min(args.n_fit, int(split.train[0].shape[0]))
    fit, test = canonical(split.train, n_fit), canonical(split.test, int(split.test[0].shape[0]))
    slots = torch.arange(test.shape[1])[None]
    real = slots < (split.test[1] >= 0).sum(1, keepdim=True)  # the real atoms come first
    mean = fit.flatten(1).mean(0)
    basis = torch.linalg.svd(fit.flatten(1) - mean, full_matrices=False)[2]
    print(f"run {args.run} at step {step}; principal components of {n_fit} training molecules")
    for k in (16, 32, 48, 64):
        proj = ((test.flatten(1) - mean) @ basis[:k].T @ basis[:k] + mean).view_as(test)
        print(f"k = {k:2d}: held-out RMSD {float(rmsd(proj, test, real).mean()):.3f} Å")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
