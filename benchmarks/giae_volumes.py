"""Benchmark: the SO(3) GIAE on voxelised procedural solids (``quotient train volumes``) against
the classical 3-d autoencoder in the same harness.

Trains the registered ``volumes`` experiment with its default configuration (16³ grids, 6,000
training and 1,200 test solids of twelve classes under Haar-random rotations, 1,500 steps of
32) once with ``model=giae`` and once with ``model=classical``, in temporary run directories,
and records: reconstruction MSE, kNN and linear-probe accuracy from ``z``, the chiral-pair kNN
(mirror twins kept apart?), the invariance error of ``z`` under the 24 rotations of the cube
(float32 worst, float64 worst) and under random rotations of SO(3) (mean, relative to the
codes' spread), the pose equivariance under the 24 (float32 and float64) and its error under
random rotations (degrees), training time and steps, and the machine load. Writes
``benchmarks/results/giae_volumes.json`` with ``readme_rows`` for ``make_table.py``.

Usage::

    nice -n 5 python benchmarks/giae_volumes.py            # both models (about 25 minutes)
    python benchmarks/giae_volumes.py --tasks volumes      # the GIAE only
    python benchmarks/giae_volumes.py --quick              # tiny settings, to check the script
    python benchmarks/giae_volumes.py --threads 2          # torch threads (default 1)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from _harness import metric, run_experiment, task_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "giae_volumes.json"
TASKS = ("volumes", "volumes-classical")
THREADS = [1]
"""Torch threads per run (``--threads``)."""


def _config(task: str, quick: bool) -> Any:
    from quotient.experiments.volumes import VolumesConfig

    cfg = VolumesConfig(model="classical" if task == "volumes-classical" else "giae",
                        threads=THREADS[0])
    train = dataclasses.replace(cfg.train, progress=False)
    if quick:
        train = dataclasses.replace(train, max_steps=10, time_limit_minutes=1.0)
        cfg = dataclasses.replace(cfg, n_train=240, n_test=120, check_samples=24,
                                  eval_samples=32, embedding="pca")
    return dataclasses.replace(cfg, train=train)


def run_task(task: str, quick: bool) -> dict[str, Any]:
    """Train ``task`` in a temporary run directory; its metrics plus timing and machine load."""
    return run_experiment("volumes", _config(task, quick))


def readme_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows: kNN of the GIAE and of the classical AE, the exact and random-rotation
    invariance of z, and the training time."""
    task = "volumes 16³ (SO(3), 12 solids)"
    rows: list[dict[str, Any]] = []
    giae = results.get("volumes", {})
    ae = results.get("volumes-classical", {})
    gm, am = giae.get("metrics"), ae.get("metrics")
    for label, entry, m in (("GIAE (O group CNN, Gram–Schmidt pose)", giae, gm),
                            ("classical 3-d AE (same decoder)", ae, am)):
        if not m:
            continue
        rows.append({
            "task": task, "method": label, "metric": "kNN acc. from z", "value": m["knn_acc"],
            "reference": None,
            "note": f"linear {m['linear_acc']:.3f}, chiral pair kNN "
                    f"{metric(m, 'chiral_knn_acc'):.3f}, rec. MSE {m['rec_mse']:.2e}; "
                    f"{m['train_seconds'] / 60:.1f} min, {m['steps']} steps, load average at "
                    f"start {entry['load_average_before'][0]:.1f}"})
    if gm:
        rows += [
            {"task": task, "method": "GIAE (O group CNN, Gram–Schmidt pose)",
             "metric": "inv. err. of z, 24 cube rotations (f32, worst)",
             "value": gm["inv_err_exact"], "reference": "≤ 1e-10 in f64 (acceptance)",
             "note": f"f64 {gm['inv_err_exact_f64']:.1e}; pose equivariance f64 "
                     f"{gm['pose_err_exact_rotation_f64']:.1e} (≤ 1e-8), f32 "
                     f"{gm['pose_err_exact_rotation']:.1e}"},
            {"task": task, "method": "GIAE (O group CNN, Gram–Schmidt pose)",
             "metric": "inv. err. of z, random rotations (mean)", "value": gm["inv_err_any"],
             "reference": None,
             "note": (f"classical AE {am['inv_err_any']:.3f}; " if am else "")
                     + f"pose under random rotations {gm['pose_err_any_angle_deg']:.1f}° (mean)"},
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--threads" in argv:  # our own option; the rest goes to the shared task parser
        at = argv.index("--threads")
        THREADS[0] = int(argv[at + 1])
        del argv[at:at + 2]
    return task_main(argv, benchmark="giae_volumes", description=__doc__.splitlines()[0],
                     tasks=TASKS, default_tasks="volumes,volumes-classical", results=RESULTS,
                     run_task=run_task, readme_rows=readme_rows,
                     note="Times were measured on the machine above while other jobs shared "
                          "its cores; see load_average_* per task. Step budgets end training; "
                          "the time limit is a safety net.")


if __name__ == "__main__":
    sys.exit(main())
