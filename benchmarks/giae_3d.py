"""Benchmark: GIAE for sets and point clouds (digit-sets, tetris, optionally qm9).

Runs the registered experiments with their default configurations in temporary run
directories and collects their metrics: accuracy or reconstruction error, the invariance error
of z and the equivariance errors of the pose (R, t, permutation) under random rotations,
translations and permutations in float32 and float64, training time and step time. The
classical autoencoder of digit-sets gets the GIAE's full time budget here. ``tetris-frame`` is
the ablation without the Procrustes refinement (rotation from the Gram–Schmidt frame only).
Writes ``benchmarks/results/giae_3d.json`` with ``readme_rows`` for ``make_table.py``.

Usage::

    python benchmarks/giae_3d.py                       # digit-sets, tetris, tetris-frame
    python benchmarks/giae_3d.py --tasks qm9           # the QM9 experiment (about 30 minutes)
    python benchmarks/giae_3d.py --quick               # tiny settings, to check the script
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from _harness import run_experiment, task_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "giae_3d.json"
TASKS = ("digit-sets", "tetris", "tetris-frame", "qm9")


def _config(task: str, quick: bool) -> tuple[str, Any]:
    from quotient.experiments import get

    name = "tetris" if task.startswith("tetris") else task
    cfg = get(name).config_cls()
    if task == "digit-sets":
        cfg = dataclasses.replace(cfg, baseline_minutes=cfg.train.time_limit_minutes)
    if task == "tetris-frame":
        cfg = dataclasses.replace(cfg, rotation="frame")
    train = dataclasses.replace(cfg.train, progress=False)
    if quick:
        train = dataclasses.replace(train, max_steps=20, time_limit_minutes=1.0)
        small: dict[str, Any] = {"digit-sets": {"n_train": 2000, "n_test": 500,
                                                "baseline_minutes": 0.05},
                                 "qm9": {"n_train": 500, "n_test": 100, "transfer_minutes": 0.05,
                                         "check_samples": 20}}.get(name, {})
        if name == "tetris":
            small = {"n_train": 2000, "n_test": 1000, "probe_samples": 1000,
                     "check_samples": 500}
        cfg = dataclasses.replace(cfg, **small)
    return name, dataclasses.replace(cfg, train=train)


def run_task(task: str, quick: bool) -> dict[str, Any]:
    """Train ``task`` in a temporary run directory; its metrics plus timing and machine load."""
    return run_experiment(*_config(task, quick))


def readme_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows for the tasks that ran."""
    rows: list[dict[str, Any]] = []
    ds = results.get("digit-sets", {}).get("metrics")
    if ds:
        mins = results["digit-sets"]["config"]["train"]["time_limit_minutes"]
        rows += [
            {"task": "digit sets (S_20)", "method": "GIAE (DeepSets + SoftSort)",
             "metric": "element / set acc.", "value": ds["element_acc"],
             "reference": "0.997 / 0.957 (10 min)",
             "note": f"set acc. {ds['set_acc']:.4f}; {ds['train_seconds'] / 60:.1f} min, "
                     f"{ds['steps']} steps"},
            {"task": "digit sets (S_20)", "method": "classical AE (same decoder)",
             "metric": "element / set acc.", "value": ds.get("baseline_element_acc"),
             "reference": "0.43 / 0.00 (5 min)",
             "note": f"set acc. {ds.get('baseline_set_acc', float('nan')):.4f}; {mins:g} min"},
            {"task": "digit sets (S_20)", "method": "GIAE", "metric": "inv. error of z (f32)",
             "value": ds["inv_err_exact"], "reference": None, "note": "random permutations"},
        ]
    for key, label in (("tetris", "GIAE (frame + Procrustes)"),
                       ("tetris-frame", "GIAE (Gram–Schmidt frame only)")):
        tt = results.get(key, {}).get("metrics")
        if not tt:
            continue
        rows.append({"task": "Tetris (SE(3) × S_4)", "method": label, "metric": "rec. MSE",
                     "value": tt["rec_mse"], "reference": "1.4e-4 (10 min); 3.2e-5 (long)",
                     "note": f"kNN acc. {tt['knn_acc']:.3f}, chiral pair kNN "
                             f"{tt['chiral_knn_acc']:.3f}; {tt['train_seconds'] / 60:.1f} min, "
                             f"{tt['steps']} steps"})
        if key == "tetris":
            rows += [
                {"task": "Tetris (SE(3) × S_4)", "method": label,
                 "metric": "inv. error of z (f32, worst / 99.9 %)", "value": tt["inv_err_exact"],
                 "reference": None,
                 "note": f"99.9 % {tt.get('inv_err_p999', float('nan')):.1e}; f64 worst "
                         f"{tt['inv_err_exact_f64']:.1e}"},
                {"task": "Tetris (SE(3) × S_4)", "method": label,
                 "metric": "R, t equivariance (f32)", "value": tt["rot_err"], "reference": None,
                 "note": f"t {tt['trans_err']:.1e}; f64 R {tt['rot_err_f64']:.1e}, t "
                         f"{tt['trans_err_f64']:.1e}; line shape R {tt['rot_err_line']:.1e} "
                         "(its stabiliser)"},
            ]
    qm = results.get("qm9", {}).get("metrics")
    if qm:
        rows.append({"task": "QM9 (E(3) × S_n)", "method": "GIAE (EGNN + SoftSort)",
                     "metric": "RMSD (Å)", "value": qm["rmsd"], "reference": None,
                     "note": f"type acc. {qm['type_acc']:.3f}; gap MAE (eV), pre-trained vs "
                             "scratch: 5 % "
                             f"{qm.get('transfer_mae_5pct_pretrained', float('nan')):.3f} vs "
                             f"{qm.get('transfer_mae_5pct_scratch', float('nan')):.3f}, 25 % "
                             f"{qm.get('transfer_mae_25pct_pretrained', float('nan')):.3f} vs "
                             f"{qm.get('transfer_mae_25pct_scratch', float('nan')):.3f}"})
    return rows


def main(argv: list[str] | None = None) -> int:
    return task_main(argv, benchmark="giae_3d", description=__doc__.splitlines()[0],
                     tasks=TASKS, default_tasks="digit-sets,tetris,tetris-frame",
                     results=RESULTS, run_task=run_task, readme_rows=readme_rows,
                     note="Times were measured on the machine above while other jobs shared "
                          "its cores; see load_average_* per task. Step budgets and time "
                          "budgets both end training.")


if __name__ == "__main__":
    sys.exit(main())
