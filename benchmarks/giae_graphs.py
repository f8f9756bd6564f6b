"""Benchmark: GIAE for graphs (S_n acting by A ↦ P A Pᵀ) against a classical autoencoder.

Runs the ``graphs`` experiment in temporary run directories and collects its metrics. The
classical, order-dependent autoencoder (same decoder and latent size) is trained after each GIAE
on the same training graphs and tested on the same test graphs (``baseline_*``).

Graphs never seen in training (``split="class"``: 20 % of the isomorphism classes, drawn per
node count, are only tested on; every training run counts steps, the time limit is a safety):

* ``unseen7`` — every graph with ≤ 7 nodes (1,253 classes: 1,003 trained, 250 unseen);
* ``unseen8`` — every graph with ≤ 8 nodes (13,599 classes, the 12,346 on 8 nodes bundled:
  10,880 trained, 2,719 unseen);
* ``sbm`` — stochastic-block-model graphs (10 nodes, 2 blocks), 4,000 training and 1,000 new
  test draws;
* ``unseen7-latent8`` — ``unseen7`` with an 8-dimensional code for both models, too small for
  the classical autoencoder to copy the 28 input bits.

Held-out relabellings of the training graphs (``split="relabel"``, the earlier protocol; time
budget 10 min, classical AE 3 min):

* ``default`` — the default model;
* ``latent8`` — both models with an 8-dimensional code, where the classical autoencoder can no
  longer just copy the 28 input bits (21 pairs + 7 mask entries) through its code;
* ``sort`` — ablation: one SoftSort of the unmarked node scores instead of
  individualisation–refinement (automorphic ties are then broken independently);
* ``pose-trained`` (not run by default) — the pose network μ trained at 0.05 × the learning rate
  with entropy weight 0.1, instead of kept at its initialisation.

Writes ``benchmarks/results/giae_graphs.json`` with ``readme_rows`` for ``make_table.py``.

Usage::

    python benchmarks/giae_graphs.py                    # unseen7, unseen8, sbm, unseen7-latent8
    python benchmarks/giae_graphs.py --tasks default,latent8,sort,pose-trained
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
TASKS = ("unseen7", "unseen8", "sbm", "unseen7-latent8", "default", "latent8", "sort",
         "pose-trained")
DEFAULT_TASKS = "unseen7,unseen8,sbm,unseen7-latent8"
UNSEEN = ("unseen7", "unseen8", "sbm", "unseen7-latent8")
GIAE_STEPS = {"unseen7": 6000, "unseen8": 6000, "sbm": 3000, "unseen7-latent8": 6000}
BASELINE_STEPS = 20_000


def _config(task: str, quick: bool) -> Any:
    from quotient.experiments.graphs import GraphsConfig

    cfg = GraphsConfig()
    train = dataclasses.replace(cfg.train, progress=False)
    if task in UNSEEN:
        # step budgets (not minutes), so the figures do not depend on the machine's load; the
        # time limits are generous safeties that a normal run never reaches
        changes: dict[str, Any] = {"split": "class", "baseline_steps": BASELINE_STEPS,
                                   "baseline_minutes": 15.0,
                                   **{"unseen7": {"max_nodes": 7}, "unseen8": {"max_nodes": 8},
                                      "sbm": {"data": "sbm"},
                                      "unseen7-latent8": {"max_nodes": 7, "latent_dim": 8},
                                      }[task]}
        train = dataclasses.replace(train, max_steps=GIAE_STEPS[task], time_limit_minutes=25.0)
        if quick:
            train = dataclasses.replace(train, max_steps=20, time_limit_minutes=1.0)
            changes.update(baseline_steps=20, sbm_train=200, sbm_test=100)
        return dataclasses.replace(cfg, train=train, **changes)
    changes = {
        "default": {"baseline_minutes": 3.0},
        "latent8": {"latent_dim": 8, "baseline_minutes": 3.0},
        "sort": {"pose_method": "sort", "baseline_minutes": 0.0},
        "pose-trained": {"pose_lr_scale": 0.05, "entropy_weight": 0.1, "baseline_minutes": 0.0},
    }[task]
    changes["split"] = "relabel"  # the earlier protocol: held-out relabellings
    if quick:
        train = dataclasses.replace(train, max_steps=20, time_limit_minutes=1.0)
        changes.update(max_nodes=6, baseline_minutes=min(changes["baseline_minutes"], 0.05))
    return dataclasses.replace(cfg, train=train, **changes)


def run_task(task: str, quick: bool) -> dict[str, Any]:
    """Train ``task`` in a temporary run directory; its metrics plus timing and machine load."""
    return run_experiment("graphs", _config(task, quick))


def _unseen_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, task, what in (
            ("unseen7", "graphs ≤ 7 nodes, unseen classes (S_n)", "unseen classes"),
            ("unseen7-latent8", "graphs ≤ 7 nodes, unseen classes (S_n)", "unseen classes"),
            ("unseen8", "graphs ≤ 8 nodes, unseen classes (S_n)", "unseen classes"),
            ("sbm", "SBM graphs, 10 nodes (S_n)", "new SBM draws")):
        m = results.get(key, {}).get("metrics")
        if not m:
            continue
        code = results[key]["config"]["latent_dim"]
        test = f"{m['test_classes']} unseen of {m['train_classes'] + m['test_classes']} " \
               "classes; " if "test_classes" in m else f"{m['n_test']} test graphs; "
        rows.append({
            "task": task, "method": "GIAE (2nd-order enc. + individualised SoftSort)"
                                    if code == 32 else f"GIAE, {code}-d code",
            "metric": f"graph acc. ({what})", "value": m["graph_acc"], "reference": None,
            "note": f"{test}edge acc. {m['edge_acc']:.4f}, train graph acc. "
                    f"{m['train_graph_acc']:.3f}, iso. kNN {m['knn_acc']:.3f}, inv. err. "
                    f"{m['inv_err_exact']:.1e} (f64 {m['inv_err_exact_f64']:.1e}); "
                    f"{m['train_seconds'] / 60:.1f} min, {m['steps']} steps"})
        if "baseline_graph_acc" in m:
            rows.append({
                "task": task, "method": f"classical AE ({code}-d code, same decoder)",
                "metric": f"graph acc. ({what})", "value": m["baseline_graph_acc"],
                "reference": None,
                "note": f"edge acc. {m['baseline_edge_acc']:.4f}, train graph acc. "
                        f"{m['baseline_train_graph_acc']:.3f}, iso. kNN "
                        f"{m['baseline_knn_acc']:.3f}, inv. err. "
                        f"{m['baseline_inv_err_exact']:.2f}; "
                        f"{m['baseline_train_seconds'] / 60:.1f} min, {m['baseline_steps']} "
                        "steps"})
    return rows


def readme_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows for the tasks that ran: unseen graphs first, then the relabellings."""
    rows = _unseen_rows(results)
    task = "graphs ≤ 7 nodes, new relabellings of seen classes (S_n)"
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
