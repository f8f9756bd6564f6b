"""Benchmark: GIAE for graphs (S_n acting by A ↦ P A Pᵀ) against a classical autoencoder.

Runs the ``graphs`` experiment (all 1,253 graphs with up to 7 nodes, tested on held-out random
relabellings) in temporary run directories and collects its metrics:

* ``default`` — the default configuration (time budget 10 min) and the classical,
  order-dependent autoencoder with the same decoder and latent size (budget 3 min);
* ``latent8`` — both models with an 8-dimensional code, where the classical autoencoder can no
  longer just copy the 28 input bits (21 pairs + 7 mask entries) through its code;
* ``sort`` — ablation: one SoftSort of the unmarked node scores instead of
  individualisation–refinement (automorphic ties are then broken independently);
* ``pose-trained`` (not run by default) — the pose network μ trained at 0.05 × the learning rate
  with entropy weight 0.1, instead of kept at its initialisation.

Writes ``benchmarks/results/giae_graphs.json`` with ``readme_rows`` for ``make_table.py``.

Usage::

    python benchmarks/giae_graphs.py                    # default, latent8, sort
    python benchmarks/giae_graphs.py --tasks pose-trained
    python benchmarks/giae_graphs.py --quick            # tiny settings, to check the script
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from _harness import metric, run_experiment, task_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "giae_graphs.json"
TASKS = ("default", "latent8", "sort", "pose-trained")
DEFAULT_TASKS = "default,latent8,sort"


def _config(task: str, quick: bool) -> Any:
    from quotient.experiments.graphs import GraphsConfig

    cfg = GraphsConfig()
    changes: dict[str, Any] = {
        "default": {"baseline_minutes": 3.0},
        "latent8": {"latent_dim": 8, "baseline_minutes": 3.0},
        "sort": {"pose_method": "sort", "baseline_minutes": 0.0},
        "pose-trained": {"pose_lr_scale": 0.05, "entropy_weight": 0.1, "baseline_minutes": 0.0},
    }[task]
    train = dataclasses.replace(cfg.train, progress=False)
    if quick:
        train = dataclasses.replace(train, max_steps=20, time_limit_minutes=1.0)
        changes.update(max_nodes=6, baseline_minutes=min(changes["baseline_minutes"], 0.05))
    return dataclasses.replace(cfg, train=train, **changes)


def run_task(task: str, quick: bool) -> dict[str, Any]:
    """Train ``task`` in a temporary run directory; its metrics plus timing and machine load."""
    return run_experiment("graphs", _config(task, quick))


def readme_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows for the tasks that ran."""
    rows: list[dict[str, Any]] = []
    task = "graphs ≤ 7 nodes (S_n)"
    for key, label in (("default", "GIAE (2nd-order enc. + individualised SoftSort)"),
                       ("latent8", "GIAE, 8-d code"), ("sort", "GIAE, one SoftSort (ablation)"),
                       ("pose-trained", "GIAE, pose network trained")):
        m = results.get(key, {}).get("metrics")
        if not m:
            continue
        rows.append({
            "task": task, "method": label, "metric": "graph acc. (held-out relabellings)",
            "value": m["graph_acc"],
            "reference": "≥ 0.9 (acceptance)" if key == "default" else None,
            "note": f"edge acc. {m['edge_acc']:.4f}, iso. kNN {m['knn_acc']:.3f}, inv. err. "
                    f"{metric(m, 'inv_err_exact', 'inv_err'):.1e} (f64 "
                    f"{metric(m, 'inv_err_exact_f64', 'inv_err_f64'):.1e}); "
                    f"{m['train_seconds'] / 60:.1f} min, {m['steps']} steps"})
        if "baseline_graph_acc" in m:
            rows.append({
                "task": task, "method": f"classical AE ({'8' if key == 'latent8' else '32'}-d "
                                        "code, same decoder)",
                "metric": "graph acc. (held-out relabellings)", "value": m["baseline_graph_acc"],
                "reference": None,
                "note": f"edge acc. {m['baseline_edge_acc']:.4f}, iso. kNN "
                        f"{m['baseline_knn_acc']:.3f}, inv. err. "
                        f"{metric(m, 'baseline_inv_err_exact', 'baseline_inv_err'):.2f}; "
                        f"{m['baseline_train_seconds'] / 60:.1f} min"})
    return rows


def main(argv: list[str] | None = None) -> int:
    return task_main(argv, benchmark="giae_graphs", description=__doc__.splitlines()[0],
                     tasks=TASKS, default_tasks=DEFAULT_TASKS, results=RESULTS,
                     run_task=run_task, readme_rows=readme_rows,
                     note="Times were measured on the machine above while other jobs shared "
                          "its cores (see load_average_* per task); training ends at max_steps "
                          "or at the time budget, whichever comes first, and the learning rate "
                          "anneals over that budget.")


if __name__ == "__main__":
    sys.exit(main())
