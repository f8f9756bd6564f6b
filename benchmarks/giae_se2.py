"""Benchmark: the SE(2) GIAE against the rotation-only GIAE and the classical autoencoder on
MNIST digits at random angles and positions (the ``se2-mnist`` experiment).

Every model is trained with the experiment's default configuration (a step budget,
``train.max_steps``; the time limit is only a safety) on the same fixed 8,000/2,000 split of the
bundled sample on a 40×40 canvas, with one CPU thread, and evaluated in the same harness:
reconstruction MSE, kNN / linear-probe / Ward-clustering accuracy of the codes, the invariance of
the codes under quarter turns and integer translations that keep the digit on the canvas
(float32 and float64), and for the SE(2) GIAE the translation error in pixels. Writes
``benchmarks/results/giae_se2.json`` with ``readme_rows`` for ``make_table.py``.

Usage::

    nice -n 5 python benchmarks/giae_se2.py                 # all three models (~30 min, 2 cores)
    python benchmarks/giae_se2.py --tasks giae              # one model; the others' figures kept
    python benchmarks/giae_se2.py --quick --out /tmp/se2.json   # a few steps, checks the script
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from _harness import run_experiment, task_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "giae_se2.json"
TASKS = ("giae", "classical", "rotation")
LABEL = {
    "giae": "GIAE SE(2) (torus centroid + C4 group CNN)",
    "rotation": "rotation-only GIAE (C4 group CNN on the canvas)",
    "classical": "classical AE (same decoder)",
}
TASK = "SE(2) MNIST (40×40 canvas, 8k/2k sample)"


def run_task(task: str, quick: bool) -> dict[str, Any]:
    from quotient.experiments.se2_mnist import SE2MNISTConfig

    cfg = SE2MNISTConfig(model=task, threads=1, plots=False, embedding="pca")  # type: ignore
    if quick:
        cfg = dataclasses.replace(cfg, n_train=256, n_test=128, check_samples=64,
                                  cluster_samples=128, se2_samples=32, se2_samples_f64=8,
                                  train=dataclasses.replace(cfg.train, max_steps=3, epochs=1,
                                                            progress=False))
    else:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, progress=False))
    return run_experiment("se2-mnist", cfg)


def readme_rows(done: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for task in TASKS:
        if task not in done:
            continue
        m = done[task]["metrics"]
        load = done[task]["load_average_before"][0]
        rows.append({
            "task": TASK, "method": LABEL[task], "metric": "kNN acc. / clustering acc.",
            "value": m["knn_acc"], "reference": "—",
            "note": f"clustering (Ward, Hungarian) {m['cluster_acc']:.3f}, linear "
                    f"{m['linear_acc']:.3f}, rec. MSE {m['rec_mse']:.4f}; {m['steps']} steps in "
                    f"{m['train_seconds']:.0f} s (1 thread, load {load:.1f})"})
        rows.append({
            "task": TASK, "method": LABEL[task],
            "metric": "inv. err. of z, quarter turns × on-canvas shifts (f64, worst)",
            "value": m["inv_err_se2_f64"],
            "reference": "≤ 1e-10 (acceptance)" if task == "giae" else "—",
            "note": f"float32 mean {m['inv_err_se2']:.3g}, worst {m['inv_err_se2_max']:.3g}"})
    if "giae" in done:
        m = done["giae"]["metrics"]
        rows.append({
            "task": TASK, "method": LABEL["giae"], "metric": "translation error (px)",
            "value": m["trans_err_true_px"], "reference": "≤ 0.5 (acceptance)",
            "note": f"against the true centroid: mean, p95 {m['trans_err_true_px_p95']:.3f}, "
                    f"worst {m['trans_err_true_px_max']:.3f}; shifted copies vs true shift: "
                    f"worst {m['trans_err_shift_px']:.2g} (f32), "
                    f"{m['trans_err_shift_px_f64']:.2g} (f64)"})
    return rows


def main(argv: list[str] | None = None) -> int:
    return task_main(
        argv, benchmark="giae_se2", description=__doc__.splitlines()[0], tasks=TASKS,
        default_tasks=",".join(TASKS), results=RESULTS, run_task=run_task,
        readme_rows=readme_rows,
        note="se2-mnist defaults (max_steps 600, batch 64, time limit 30 min as a safety for "
             "shared machines), one CPU thread per model on a shared 2-core machine; the load "
             "average before each model is recorded with it")


if __name__ == "__main__":
    sys.exit(main())
