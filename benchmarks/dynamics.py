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

* ``c4_cnn`` — the experiment ``quotient dynamics c4-cnn`` with its default settings (the
  paper's main experiment: EQUI to a certified stationary point, the Hessian blocks there, exact
  / orbit-complete / random-rotation AUG from it); its figures and wall-clock time.
* ``emlp`` (only with ``--emlp``) — our solver against EMLP (Finzi, Welling and Wilson 2021) on
  the same representations: S_n permutation tensors, SO(3) tensor representations and a C4
  convolution; time (best of ``--repeats``, both sides, in one run) and the answers compared by
  dimension and principal angles. EMLP is never a dependency of quotient: it is installed
  (``pip install emlp six``, which brings jax) into a throwaway virtual environment under
  ``--emlp-env`` (default: the user's cache folder) and run there in a process of its own.

Sections not run keep their figures from the previous results file.

Usage: ``python benchmarks/dynamics.py [--sections solver,compatibility,drift,stability,c4_cnn]
[--emlp] [--quick] [--threads N] [--dense-max-d D] [--c4-out DIR]``; ``--emlp`` alone runs only
the EMLP comparison.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import inspect
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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
from quotient.dynamics.basis import EquivariantBasis
from quotient.dynamics.stability import newton_in_E
from quotient.groups import CyclicGroup, Representation, SymmetricGroup, direct_sum, tensor
from quotient.groups.so3 import SO3

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


# ---------------------------------------------------------------------------------------------
# EMLP comparison (--emlp). EMLP (Finzi, Welling, Wilson 2021) solves the same constraint
# problem with jax; it is never a dependency of quotient: the benchmark builds it in a throwaway
# virtual environment under the user's cache folder and runs it in a separate process that sees
# neither torch nor quotient.
EMLP_CASES = [
    {"name": "S5 Hom(T2,T2)", "group": "S", "n": 5, "kind": "tensor", "k_in": 2, "k_out": 2},
    {"name": "S6 Hom(T2,T2)", "group": "S", "n": 6, "kind": "tensor", "k_in": 2, "k_out": 2},
    {"name": "S6 Hom(T1,T3)", "group": "S", "n": 6, "kind": "tensor", "k_in": 1, "k_out": 3},
    {"name": "S5 T4 invariants", "group": "S", "n": 5, "kind": "tensor", "k_in": 4, "k_out": 0},
    {"name": "SO3 Hom(T2,T2)", "group": "SO", "n": 3, "kind": "tensor", "k_in": 2, "k_out": 2},
    {"name": "SO3 Hom(T3,T2)", "group": "SO", "n": 3, "kind": "tensor", "k_in": 3, "k_out": 2},
    {"name": "SO3 Hom(T3,T3)", "group": "SO", "n": 3, "kind": "tensor", "k_in": 3, "k_out": 3},
    {"name": "C4 conv 3x3, 1->1 regular", "group": "Z", "n": 4, "kind": "conv", "copies": 1},
    {"name": "C4 conv 3x3, 2->2 regular", "group": "Z", "n": 4, "kind": "conv", "copies": 2},
    {"name": "C4 conv 3x3, 4->4 regular", "group": "Z", "n": 4, "kind": "conv", "copies": 4},
]
"""The shared cases. ``T(k)`` is the k-th tensor power of the defining representation (the n×n
permutation matrices of S_n, the rotations of SO(3)); ``Hom(A, B) = B ⊗ A*``, row-major in both
libraries. EMLP has no representation of C4 on the cells of a 3×3 kernel, but the cells are the
centre, the four edges and the four corners, each ring permuted cyclically by a quarter turn, so
``trivial ⊕ regular ⊕ regular`` is the same representation with the cells ordered
``[centre, edge orbit, corner orbit]``; both libraries solve it in that order."""


def _emlp_worker(spec_file: str, out_dir: str, repeats: int) -> None:
    """Run in EMLP's environment (numpy, jax and emlp; neither torch nor quotient): solve every
    case ``repeats`` times, each with EMLP's solution cache emptied, and save the bases."""
    import json
    import time

    import emlp
    import jax
    import numpy as np
    from emlp.groups import SO, S, Z
    from emlp.reps import Scalar, T, V
    from emlp.reps.representation import Rep

    def build(case: dict):  # noqa: ANN202 - EMLP's types exist only in its environment
        group = {"S": S, "SO": SO, "Z": Z}[case["group"]](case["n"])
        if case["kind"] == "tensor":
            rep_in = T(case["k_in"]) if case["k_in"] else Scalar
            rep_out = T(case["k_out"]) if case["k_out"] else Scalar
            return (rep_in >> rep_out)(group)
        ch = case["copies"] * V
        return ((ch * (Scalar + 2 * V)) >> ch)(group)

    def solve(rep) -> np.ndarray:  # noqa: ANN001
        Rep.solcache.clear()  # EMLP caches solved representations: time a real solve
        q = rep.equivariant_basis()
        q = q.to_dense() if hasattr(q, "to_dense") else q  # lazy for sums of representations
        return np.asarray(jax.block_until_ready(q))

    solve((V >> V)(SO(2)))  # start jax (backend, first compilation) outside the timings
    out: dict = {"_versions": {"emlp": emlp.__version__, "jax": jax.__version__}}
    with open(spec_file) as handle:
        cases = json.load(handle)
    for i, case in enumerate(cases):
        rep = build(case)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            q = solve(rep)
            times.append(time.perf_counter() - start)
        np.save(f"{out_dir}/{i}.npy", q.astype(np.float64))
        out[case["name"]] = {"first_seconds": times[0], "best_seconds": min(times),
                             "shape": list(q.shape), "file": f"{i}.npy"}
        print(f"emlp {case['name']}: {q.shape}, best {min(times):.3g} s", flush=True)
    with open(f"{out_dir}/emlp.json", "w") as handle:
        json.dump(out, handle)


def emlp_python(env: Path) -> Path:
    """The interpreter of EMLP's throwaway environment, created (``python -m venv``, then
    ``pip install emlp six``; jax comes with emlp) when it cannot import emlp yet."""
    python = env / "bin" / "python"
    probe = [str(python), "-c", "import six, jax, emlp.reps"]
    if python.is_file() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"building EMLP's environment in {env} (pip install emlp six) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "emlp", "six"], check=True)
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"emlp does not import in {env}: {done.stderr.strip()[-2000:]}")
    return python


def _ours(case: dict) -> tuple[Representation, Representation]:
    if case["kind"] == "conv":
        c4 = CyclicGroup(4)
        reg = c4.rep("regular")
        ch = copies(reg, case["copies"])
        return tensor(ch, direct_sum(identity_representation(c4, 1), reg, reg)), ch
    group = SymmetricGroup(case["n"]) if case["group"] == "S" else SO3()
    base = group.rep("permutation" if case["group"] == "S" else "standard")
    scalar = identity_representation(group, 1)
    return (base ** case["k_in"] if case["k_in"] else scalar,
            base ** case["k_out"] if case["k_out"] else scalar)


def principal_sines(q: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Sines of the principal angles between the column spans of ``q`` (orthonormal) and
    ``other`` (any basis), largest first: the singular values of ``(I − QQᵀ) U`` for an
    orthonormal basis ``U`` of ``other``'s span."""
    u = torch.linalg.qr(other.to(torch.float64)).Q
    return torch.linalg.svdvals(u - q @ (q.T @ u))


def bench_emlp(env: Path, repeats: int) -> dict:
    """Time EMLP's and our basis of every shared case, compare the answers."""
    python = emlp_python(env)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cases.json"
        spec.write_text(json.dumps(EMLP_CASES))
        source = inspect.getsource(_emlp_worker)
        code = f"{source}\n_emlp_worker({str(spec)!r}, {tmp!r}, {repeats})\n"
        subprocess.run([str(python), "-c", code], check=True)
        theirs = json.loads((Path(tmp) / "emlp.json").read_text())
        rows = []
        for case in EMLP_CASES:
            rep_in, rep_out = _ours(case)
            t_ours, ours = _timed(lambda a=rep_in, b=rep_out: _solved(a, b), repeats)
            got = theirs[case["name"]]
            q_emlp = torch.from_numpy(np.load(Path(tmp) / got["file"]))
            sines = principal_sines(ours.basis, q_emlp) if q_emlp.shape[1] else torch.zeros(0)
            row = {"case": case["name"], "D": rep_in.dim * rep_out.dim, "dim_ours": ours.dim,
                   "dim_emlp": int(q_emlp.shape[1]), "method_ours": ours.method,
                   "ours_seconds": t_ours, "emlp_seconds": got["best_seconds"],
                   "emlp_first_seconds": got["first_seconds"],
                   "ratio": got["best_seconds"] / t_ours,
                   "max_principal_angle": float(torch.asin(sines.max().clamp(max=1.0)))
                   if sines.numel() else 0.0}
            rows.append(row)
            print(f"emlp vs ours {case['name']}: dims {row['dim_ours']}/{row['dim_emlp']}, "
                  f"{row['emlp_seconds']:.3g} s / {row['ours_seconds']:.3g} s = "
                  f"{row['ratio']:.0f}x, max angle {row['max_principal_angle']:.1e}", flush=True)
    return {"versions": theirs["_versions"], "repeats": repeats, "cases": rows,
            "min_ratio": min(r["ratio"] for r in rows),
            "not_compared": {"C4 conv on the 3x3 pixel grid itself": "EMLP has no representation "
                             "of a rotation on grid cells; compared in the block order "
                             "trivial + regular + regular of the same representation"}}


def _solved(rep_in: Representation, rep_out: Representation) -> EquivariantBasis:
    basis = solve_equivariant(rep_in, rep_out)
    _ = basis.basis  # materialise Q (D, k): EMLP returns it dense too
    return basis


def bench_c4_cnn(quick: bool, out: Path | None) -> dict:
    """Run ``quotient dynamics c4-cnn`` (default settings; tiny ones with ``--quick``) in
    ``out`` (a temporary folder when ``None``) and keep its figures and wall-clock time."""
    from quotient.experiments import get
    from quotient.train import RunDir

    exp = get("c4-cnn", "dynamics")
    cfg = exp.config_cls()
    if quick:
        cfg = dataclasses.replace(cfg, channels=[4, 4, 4], n_train=200, n_test=100,
                                  n_dynamics=40, aug_batch=10, equi_batch=20, equi_epochs=[2],
                                  equi_lrs=[0.01], seeds=2, exact_steps=3, aug_epochs=1,
                                  lanczos_steps=4, lbfgs_iters=400, anchor=1.0)
    load_before = os.getloadavg()
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        where = out if out is not None else Path(tmp) / "run"
        with RunDir(where, overwrite=True) as run_dir:
            metrics = exp.run(cfg, run_dir, False)
    return {"config": dataclasses.asdict(cfg), "metrics": metrics,
            "wall_seconds": time.perf_counter() - started, "threads": cfg.threads,
            # CPU time of this process: about the wall time on an idle core
            "cpu_seconds": time.process_time() - cpu,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "run_dir": Path(out).name if out is not None else None}


def _c4_rows(c4: dict) -> list[dict]:
    m, cfg = c4["metrics"], c4["config"]
    task = "C4 CNN, MNIST 14x14 (10k sample)"
    rows = [{"task": task, "method": "EQUI to a stationary point", "metric": "test accuracy",
             "value": m["equi_cross/test_accuracy"], "reference": ">= 0.95",
             "note": f"|Pi_E grad R| {m['equi_cross/gradient_E']:.1e} <= "
                     f"{m['gradient_tol']:g}; {cfg['n_test']} test digits"}]
    for space in ("cross", "skew", "cross-nonorth"):
        for form, name in (("exact", "exact AUG"), ("orbit-complete", "orbit-complete AUG")):
            key = f"{space}/{form}"
            if f"{key}/distance_final_median" not in m:
                continue
            value = (m[f"{key}/distance_max_over_steps"] if space == "cross"
                     else m[f"{key}/distance_final_median"])
            rows.append({"task": task, "method": f"{name}, {space}",
                         "metric": "max distance to E" if space == "cross"
                         else "distance to E (median)", "value": value,
                         "reference": "<= 1e-10" if space == "cross" else ">= 1e-3",
                         "note": f"min {m[f'{key}/distance_final_min']:.2e} over "
                                 f"{int(m[f'{key}/runs'])} run(s)"})
    for i in (1, 2):
        key = f"cross/SGD_lr{i}"
        if f"{key}/distance_final_median" in m:
            rows.append({"task": task, "method": f"random-rotation SGD, lr {m[f'sgd_lr{i}']:g}",
                         "metric": "distance to E (median)",
                         "value": m[f"{key}/distance_final_median"],
                         "note": f"cross; range {m[f'{key}/distance_final_min']:.2e}"
                                 f"-{m[f'{key}/distance_final_max']:.2e}"})
    if "hessian/E_min" in m:
        rows.append({"task": task, "method": "Hessian blocks at the EQUI point",
                     "metric": "E / E-perp min eigenvalue", "value": m["hessian/E_min"],
                     "note": f"E-perp {m['hessian/perp_min']:.3g}; EQUI "
                             f"{'stable' if m['hessian/stable_equi'] else 'unstable'}, AUG "
                             f"{'stable' if m['hessian/stable_aug'] else 'saddle'}"})
    rows.append({"task": task, "method": "whole experiment", "metric": "minutes",
                 "value": c4["wall_seconds"] / 60, "reference": "<= 30 (2 cores)",
                 "note": f"{c4['threads']} thread, shared machine (load "
                         f"{c4['load_average_before'][0]:.1f})"})
    return rows


def _rows(payload: dict) -> list[dict]:
    """The README rows of every section present."""
    rows = []
    solver, compat = payload.get("solver"), payload.get("compatibility")
    drift, stab = payload.get("drift"), payload.get("stability")
    c32 = next((r for r in solver or [] if r["channels"] == 32), None)
    if c32:
        rows.append({"task": "C4 3x3 conv 32->32 basis", "method": "orbit solver",
                     "metric": "seconds", "value": c32["fast_with_dense_basis_seconds"],
                     "reference": "<= 1 s", "note": f"speed-up vs dense SVD "
                     f"{c32['speedup']:.0f}x" if "speedup" in c32 else ""})
    if compat:
        rows.append({"task": "3x3 kernels under C4", "method": "skew support",
                     "metric": "commutator", "value": compat["trivial/skew"]["commutator"],
                     "reference": 0.433})
    if drift:
        rows += [{"task": "C4 CNN, 8x8 digits", "method": "exact AUG, cross",
                  "metric": "distance to E", "value": drift["cross/AUG"]["after_last_step_median"],
                  "reference": 2e-15},
                 {"task": "C4 CNN, 8x8 digits", "method": "exact AUG, skew",
                  "metric": "distance to E", "value": drift["skew/AUG"]["after_last_step_median"],
                  "reference": 0.85}]
    if stab:
        rows.append({"task": "Z2 example", "method": "Hessian blocks", "metric": "E / E-perp",
                     "value": stab["population"]["E_block"], "reference": 16,
                     "note": f"E-perp {stab['population']['perp_block']:.3g} (reference -16)"})
    if payload.get("c4_cnn"):
        rows += _c4_rows(payload["c4_cnn"])
    if payload.get("emlp"):
        e = payload["emlp"]
        worst = max(e["cases"], key=lambda r: r["max_principal_angle"])
        rows.append({"task": f"equivariant bases, {len(e['cases'])} shared cases",
                     "method": "ours vs EMLP", "metric": "speed-up (smallest)",
                     "value": e["min_ratio"], "reference": ">= 10",
                     "note": f"same dimensions; largest principal angle "
                             f"{worst['max_principal_angle']:.1e} (EMLP in float32)"})
    return rows


SECTIONS = ("solver", "compatibility", "drift", "stability", "c4_cnn")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", default=None,
                   help=f"comma-separated, from {', '.join(SECTIONS)}, emlp (default: all but "
                        "emlp; with --emlp alone: emlp only)")
    p.add_argument("--emlp", action="store_true", help="also compare with EMLP (builds it)")
    p.add_argument("--emlp-env", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "quotient-bench" / "emlp-venv",
                   help="throwaway virtual environment for EMLP")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats of the EMLP cases")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--dense-max-d", type=int, default=2304,
                   help="largest D for which the dense SVD is actually run")
    p.add_argument("--c4-out", type=Path, default=None,
                   help="run directory of the c4-cnn experiment (kept; default: temporary)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # progress
    if args.sections is None:
        chosen = ["emlp"] if args.emlp else list(SECTIONS)
    else:
        chosen = [x.strip() for x in args.sections.split(",") if x.strip()]
        chosen += ["emlp"] if args.emlp and "emlp" not in chosen else []
    if unknown := sorted(set(chosen) - set(SECTIONS) - {"emlp"}):
        p.error(f"unknown sections {unknown}")
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    quick = args.quick
    previous = json.loads(args.out.read_text()) if args.out.is_file() and not quick else {}
    payload = {k: v for k, v in previous.items() if k in (*SECTIONS, "emlp", "seconds_by_section")}
    timing = dict(payload.get("seconds_by_section", {}))
    for section in chosen:
        started = time.perf_counter()
        if section == "solver":
            payload["solver"] = bench_solver([4, 8] if quick else [4, 8, 16, 32],
                                             min(args.dense_max_d, 576) if quick
                                             else args.dense_max_d)
        elif section == "compatibility":
            payload["compatibility"] = bench_compatibility()
        elif section == "drift":
            payload["drift"] = bench_drift(1 if quick else 3, 2 if quick else 30,
                                           50 if quick else 1000)
        elif section == "stability":
            payload["stability"] = bench_stability(2000 if quick else 20_000)
        elif section == "c4_cnn":
            payload["c4_cnn"] = bench_c4_cnn(quick, args.c4_out)
        else:
            payload["emlp"] = bench_emlp(args.emlp_env, args.repeats)
        timing[section] = time.perf_counter() - started
        print(f"section {section}: {timing[section]:.0f} s", flush=True)
    kept = [k for k in (*SECTIONS, "emlp") if k in payload and k not in chosen]
    result = {"benchmark": "dynamics", "quick": quick, "sections_run": chosen,
              "seconds": time.perf_counter() - t0,
              "environment": {"torch": torch.__version__, "python": platform.python_version(),
                              "threads": torch.get_num_threads(), "cpus": os.cpu_count()},
              "kept_from_earlier_runs": kept,
              "environment_of_earlier_runs": previous.get("environment_of_earlier_runs",
                                                          previous.get("environment")),
              "seconds_by_section": timing,
              **{k: payload[k] for k in (*SECTIONS, "emlp") if k in payload},
              "readme_rows": _rows(payload)}
    write_results(args.out, result)
    print(f"wrote {args.out.name} in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
