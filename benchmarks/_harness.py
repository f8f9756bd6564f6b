"""Shared pieces of the benchmarks that train experiments task by task (giae_3d, giae_graphs):
run one configured experiment in a temporary run directory, merge the tasks of this run into
the previous results file, and write the results atomically. Not a benchmark itself."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_experiment(name: str, cfg: Any) -> dict[str, Any]:
    """Train experiment ``name`` with ``cfg`` in a temporary run directory; its metrics plus
    the configuration, wall time and machine load before and after."""
    from quotient.experiments import ExperimentResult, get
    from quotient.train import RunDir

    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = get(name).run(cfg, RunDir(Path(tmp) / "run"), False)
    metrics = result.metrics if isinstance(result, ExperimentResult) else result
    return {"experiment": name, "config": dataclasses.asdict(cfg), "metrics": metrics,
            "wall_seconds": time.perf_counter() - started,
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


def metric(metrics: dict[str, Any], name: str, *older: str) -> Any:
    """``metrics[name]``, or the first of its ``older`` names that a results file written before
    a rename holds (e.g. ``inv_err_exact``, formerly ``inv_err``); NaN if none is there."""
    for key in (name, *older):
        if key in metrics:
            return metrics[key]
    return float("nan")


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """Write the results JSON atomically (a crash never leaves half a file)."""
    from quotient.train.io import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n")


def task_main(argv: list[str] | None, *, benchmark: str, description: str,
              tasks: tuple[str, ...], default_tasks: str, results: Path,
              run_task: Callable[[str, bool], dict[str, Any]],
              readme_rows: Callable[[dict[str, Any]], list[dict[str, Any]]], note: str) -> int:
    """The command line of a task benchmark: ``--tasks``, ``--quick``, ``--out``. Tasks not run
    now keep their figures from the previous results file (unless ``--quick``)."""
    import torch

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tasks", default=default_tasks,
                        help=f"comma-separated, from {', '.join(tasks)}")
    parser.add_argument("--quick", action="store_true", help="tiny settings (checks the script)")
    parser.add_argument("--out", type=Path, default=results)
    args = parser.parse_args(argv)
    chosen = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(chosen) - set(tasks))
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {', '.join(tasks)}")
    previous = json.loads(args.out.read_text()) if args.out.is_file() and not args.quick else {}
    done: dict[str, Any] = dict(previous.get("results", {}))
    for task in chosen:
        print(f"{benchmark}: running {task}{' (quick)' if args.quick else ''} ...", flush=True)
        done[task] = run_task(task, args.quick)
        print(f"{benchmark}: {task}: " + json.dumps(done[task]["metrics"]), flush=True)
    write_results(args.out, {
        "benchmark": benchmark, "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version(), "platform": platform.platform()},
        "note": note, "results": done, "readme_rows": readme_rows(done),
    })
    print(f"{benchmark}: wrote {args.out}")
    return 0
