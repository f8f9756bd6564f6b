"""Benchmark of quotient.dynamics; writes ``benchmarks/results/dynamics.json``.

Sections:

* ``solver`` — time and accuracy of the equivariant basis of a 3×3 convolution under C4 with
  regular channels (``c → c``) for growing ``c``: the orbit fast path against the dense SVD of
  the stacked constraint matrix ``ρ̄(h) − I`` (``D × D``, ``D = 9c²``). Dense SVDs beyond
  ``--dense-max-d`` are not run; their time is extrapolated as ``D³`` from the largest one run
  and marked ``"extrapolated": true``.
* ``compatibility`` — ``‖Π_L Π_G − Π_G Π_L‖₂`` for the cross, skew and full 3×3 supports.
* ``drift`` — the C4 CNN on the 8×8 scikit-learn digits: EQUI training, then exact AUG (all four
  rotations in every batch) from the EQUI weights for ``--aug-steps`` steps, per space; and one
  random rotation per digit (stochastic AUG) for the cross space. Distances from E after the
  first and the last AUG step, median over seeds.
* ``stability`` — the worked ℤ₂ example: population blocks, the growth rate of an E⊥
  perturbation under AUG gradient descent, the regularised rate, and the finite-sample blocks.

Usage: ``python benchmarks/dynamics.py [--quick] [--threads N] [--dense-max-d D]``.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _harness import write_results

from quotient.actions import rot90_image
from quotient.dynamics import (
    AUG,
    AUG_STOCHASTIC,
    CROSS,
    EQUI,
    SKEW,
    CNNSpec,
    LayerGeometry,
    MaskSpace,
    Objective,
    copies,
    equivariance_cnn,
    grid_representation,
    hessian_blocks,
    identity_representation,
    perturbation_growth,
    project_to_E,
    regulariser,
    solve_equivariant,
    support_mask,
    train,
    z2_example,
)
from quotient.dynamics.stability import newton_in_E
from quotient.groups import CyclicGroup, tensor

RESULTS = Path(__file__).resolve().parent / "results" / "dynamics.json"
C4 = CyclicGroup(4)


def _timed(fn, repeat: int = 1):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_solver(channels: list[int], dense_max_d: int) -> list[dict]:
    kernel = grid_representation(C4, rot90_image, 3)
    rows, last_dense = [], None
    for c in channels:
        rin = tensor(copies(C4.rep("regular"), c // 4), kernel)
        rout = copies(C4.rep("regular"), c // 4)
        d = rin.dim * rout.dim
        t_fast, fast = _timed(lambda rin=rin, rout=rout: solve_equivariant(rin, rout), 3)
        t_basis, q = _timed(lambda fast=fast: (setattr(fast, "_basis", None), fast.basis)[1])
        row = {"channels": c, "D": d, "dim_H_G": fast.dim, "method": fast.method,
               "fast_seconds": t_fast, "fast_with_dense_basis_seconds": t_fast + t_basis}
        if d <= dense_max_d:
            t_dense, dense = _timed(lambda rin=rin, rout=rout: solve_equivariant(
                rin, rout, method="dense"))
            sines = torch.linalg.svdvals(dense.basis - q @ (q.T @ dense.basis))
            row.update(dense_seconds=t_dense, dense_dim=dense.dim, extrapolated=False,
                       max_principal_sine=float(sines.max()) if sines.numel() else 0.0)
            last_dense = (d, t_dense)
        elif last_dense is not None:
            row.update(dense_seconds=last_dense[1] * (d / last_dense[0]) ** 3,
                       extrapolated=True)
        if "dense_seconds" in row:
            row["speedup"] = row["dense_seconds"] / row["fast_with_dense_basis_seconds"]
        rows.append(row)
        print(f"solver c={c}: {row}", flush=True)
    return rows


def bench_compatibility() -> dict:
    out = {}
    for channels in ("trivial", "regular"):
        ch = identity_representation(C4, 1) if channels == "trivial" else C4.rep("regular")
        eq = solve_equivariant(tensor(ch, grid_representation(C4, rot90_image, 3)), ch)
        for name, support in (("cross", CROSS), ("skew", SKEW), ("full", None)):
            mask = None if support is None else support_mask(support)
            rep = LayerGeometry(MaskSpace((ch.dim, ch.dim, 3, 3), mask), eq).compatibility()
            out[f"{channels}/{name}"] = {"commutator": rep.commutator,
                                         "compatible": rep.compatible,
                                         "invariant": rep.invariant, "dim_L": rep.dim_L,
                                         "dim_E": rep.dim_E}
    return out


def _digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.data, dtype=torch.float64).reshape(-1, 1, 8, 8) / 16.0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    y = F.one_hot(torch.as_tensor(digits.target)[order], 10).to(torch.float64)
    return x[order], y


def bench_drift(seeds: int, equi_epochs: int, aug_steps: int) -> dict:
    spaces = {"cross": ("cross", "orthonormal"), "skew": ("skew", "orthonormal"),
              "cross-nonorth": ("cross", "non-orthonormal")}
    lr_equi, lr_aug, n, batch = 0.02, 0.01, 500, 100
    runs: dict[str, list[tuple[float, float]]] = {}
    for seed in range(seeds):
        x, y = _digits(n, seed)
        for space, (support, basis) in spaces.items():
            spec = CNNSpec(channels=(1, 4, 8, 8), image_size=8, pools=(True, True, False),
                           support=support, basis=basis)
            model, sym = equivariance_cnn(spec, generator=torch.Generator().manual_seed(seed))
            project_to_E(model)
            obj = Objective(model, lambda p, t: (p - t).pow(2).sum(1).mean(), x, y, sym, batch)
            gen = torch.Generator().manual_seed(100 + seed)
            train(obj, EQUI, steps=equi_epochs * n // batch, lr=lr_equi, generator=gen,
                  record_every=10_000)
            start = copy.deepcopy(model.state_dict())
            for strategy in [AUG] + ([AUG_STOCHASTIC] if space == "cross" else []):
                model.load_state_dict(start)
                traj = train(obj, strategy, steps=aug_steps, lr=lr_aug, generator=gen,
                             record_every=1)
                key = f"{space}/{strategy.label}"
                runs.setdefault(key, []).append((traj.distance[1], traj.distance[-1]))
                print(f"drift seed {seed} {key}: {traj.distance[1]:.3g} -> "
                      f"{traj.distance[-1]:.3g}", flush=True)
        del x, y
    return {"setup": {"digits": "scikit-learn 8x8", "n_train": n, "batch": batch,
                      "channels": [1, 4, 8, 8], "equi_epochs": equi_epochs,
                      "aug_steps": aug_steps, "lr_equi": lr_equi, "lr_aug": lr_aug,
                      "seeds": seeds},
            **{k: {"after_first_step_median": statistics.median(a for a, _ in v),
                   "after_last_step_median": statistics.median(b for _, b in v),
                   "after_last_step_max": max(b for _, b in v)} for k, v in runs.items()}}


def bench_stability(sample_n: int) -> dict:
    ex = z2_example()
    pop = hessian_blocks(ex.model, ex.risk)
    out = {"population": {"E_block": pop.e_min, "perp_block": pop.perp_min,
                          "stable_equi": pop.stable_equi, "stable_aug": pop.stable_aug}}
    for lr in (1e-3, 1e-2):
        ex = z2_example()
        g = perturbation_growth(ex.model, ex.risk, [torch.tensor([1.0, -1.0])], lr=lr,
                                steps=int(1.5 / lr), eps=1e-8)
        out[f"growth_lr{lr:g}"] = {"rate": g.rate, "eigenvalue_estimate": g.eigenvalue,
                                   "relative_error_vs_16": abs(g.rate - 16) / 16,
                                   "final_weights": ex.model.weight().detach().tolist()}
    for gamma in (8.0, 20.0):
        ex = z2_example()
        g = perturbation_growth(ex.model, ex.risk, [torch.tensor([1.0, -1.0])], lr=1e-3,
                                steps=600, gamma=gamma, fit_below=1.0)
        reg = z2_example()
        rep = hessian_blocks(reg.model, lambda r=reg, gm=gamma: r.risk() + gm * regulariser(
            [r.model.linear]))
        out[f"gamma{gamma:g}"] = {"rate": g.rate, "perp_block": rep.perp_min,
                                  "stable_aug": rep.stable_aug}
    ex = z2_example()
    obj = ex.sample_objective(sample_n, torch.Generator().manual_seed(0))
    newton_in_E(ex.model, lambda: obj.risk("exact"))
    rep = hessian_blocks(ex.model, lambda: obj.risk("exact"))
    out["sample"] = {"n": sample_n, "E_block": rep.e_min, "perp_block": rep.perp_min,
                     "alpha": float(ex.model.weight().detach()[0])}
    layer = ex.model.linear
    for _ in range(400):  # exact AUG from E: round-off seeds the unstable direction
        grad = torch.autograd.grad(obj.risk("exact"), layer.coef)[0]
        with torch.no_grad():
            layer.coef.sub_(0.01 * grad)
    out["sample"]["distance_after_400_aug_steps_from_E"] = layer.distance_to_E()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--dense-max-d", type=int, default=2304,
                   help="largest D for which the dense SVD is actually run")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    quick = args.quick
    solver = bench_solver([4, 8] if quick else [4, 8, 16, 32],
                          min(args.dense_max_d, 576) if quick else args.dense_max_d)
    compat = bench_compatibility()
    drift = bench_drift(1 if quick else 3, 2 if quick else 30, 50 if quick else 1000)
    stab = bench_stability(2000 if quick else 20_000)
    c32 = next((r for r in solver if r["channels"] == 32), None)
    rows = [
        {"task": "C4 3x3 conv 32->32 basis", "method": "orbit solver", "metric": "seconds",
         "value": c32["fast_with_dense_basis_seconds"] if c32 else None, "reference": "<= 1 s",
         "note": f"speed-up vs dense SVD {c32['speedup']:.0f}x" if c32 and "speedup" in c32
         else ""},
        {"task": "3x3 kernels under C4", "method": "skew support", "metric": "commutator",
         "value": compat["trivial/skew"]["commutator"], "reference": 0.433},
        {"task": "C4 CNN, 8x8 digits", "method": "exact AUG, cross", "metric": "distance to E",
         "value": drift["cross/AUG"]["after_last_step_median"], "reference": 2e-15},
        {"task": "C4 CNN, 8x8 digits", "method": "exact AUG, skew", "metric": "distance to E",
         "value": drift["skew/AUG"]["after_last_step_median"], "reference": 0.85},
        {"task": "Z2 example", "method": "Hessian blocks", "metric": "E / E-perp",
         "value": stab["population"]["E_block"], "reference": 16,
         "note": f"E-perp {stab['population']['perp_block']:.3g} (reference -16)"},
    ]
    payload = {"benchmark": "dynamics", "quick": quick, "seconds": time.perf_counter() - t0,
               "environment": {"torch": torch.__version__, "python": platform.python_version(),
                               "threads": torch.get_num_threads(), "cpus": os.cpu_count()},
               "solver": solver, "compatibility": compat, "drift": drift, "stability": stab,
               "readme_rows": rows}
    write_results(args.out, payload)
    print(f"wrote {args.out.name} in {payload['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
