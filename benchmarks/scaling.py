"""Scaling benchmark: throughput with 1 and 2 processes (DistributedDataParallel, gloo on CPU)
and time per epoch as the training set grows (1×, 2×, 4×).

Runs ``quotient train EXPERIMENT`` through ``torch.distributed.run`` so the measured path is the
one users launch. Three ways of using the machine's 2 cores are compared on the same global
batch: 1 process with 1 thread (the baseline), 1 process with 2 threads, and 2 processes with 1
thread each (DDP). Each run's final training loss is recorded too: DDP with the same global
batch must train the same model. Writes ``benchmarks/results/scaling.json``.

    python benchmarks/scaling.py [--experiment rotated-mnist] [--base-samples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import write_results

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "scaling.json"

# per experiment: the setting that sizes the training set, and settings that keep the run to
# training (no plots, a cheap evaluation)
EXPERIMENTS: dict[str, tuple[str, list[str]]] = {
    "rotated-mnist": ("n_train", ["n_test=200", "plots=false", "embedding=pca",
                                  "eval_every=1000", "threads=0"]),
    "digits-c4": ("max_train_samples", []),
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(experiment: str, nproc: int, threads: int, overrides: list[str], out: Path) -> dict:
    """One training run under torchrun; returns its metrics.json and final training loss."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           f"--master_port={_port()}", "-m", "quotient", "train", experiment, "--out", str(out),
           "--set", *overrides]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    metrics = json.loads((out / "metrics.json").read_text())
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r.get("kind") == "train" and "loss" in r]
    metrics["final_train_loss"] = losses[-1] if losses else None
    return metrics


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="rotated-mnist", choices=sorted(EXPERIMENTS))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--base-samples", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    size_key, extra = EXPERIMENTS[args.experiment]
    common = [f"train.batch_size={args.batch_size}", "train.progress=false", "train.device=cpu",
              "train.checkpoint_every=0", "train.log_every=5", *extra]
    result: dict = {"experiment": args.experiment, "global_batch": args.batch_size,
                    "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                    "load_average_at_start": list(os.getloadavg())},
                    "processes": {}, "data_growth": {}}
    with tempfile.TemporaryDirectory() as tmp:
        n = 4 * args.base_samples
        for label, nproc, threads in (("1 process x 1 thread", 1, 1),
                                      ("1 process x 2 threads", 1, 2),
                                      ("2 processes x 1 thread", 2, 1)):
            m = run(args.experiment, nproc, threads,
                    [*common, f"train.epochs={args.epochs}", f"{size_key}={n}"],
                    Path(tmp) / f"p{nproc}t{threads}")
            samples = m["steps"] * args.batch_size
            result["processes"][label] = {
                "processes": nproc, "threads_per_process": threads,
                "train_seconds": m["train_seconds"], "steps": m["steps"],
                "samples_per_second": samples / m["train_seconds"],
                "final_train_loss": m["final_train_loss"]}
        procs = result["processes"]
        base = procs["1 process x 1 thread"]["samples_per_second"]
        for v in procs.values():
            v["throughput_ratio"] = v["samples_per_second"] / base
        ddp, single = procs["2 processes x 1 thread"], procs["1 process x 1 thread"]
        result["ddp_final_loss_rel_diff"] = (abs(ddp["final_train_loss"]
                                                 - single["final_train_loss"])
                                             / abs(single["final_train_loss"]))
        for factor in (1, 2, 4):
            size = factor * args.base_samples
            m = run(args.experiment, 1, 1, [*common, "train.epochs=1", f"{size_key}={size}"],
                    Path(tmp) / f"d{factor}")
            result["data_growth"][f"{factor}x"] = {"samples": size,
                                                   "seconds_per_epoch": m["train_seconds"]}
        first = result["data_growth"]["1x"]["seconds_per_epoch"]
        for v in result["data_growth"].values():
            v["ratio_to_1x"] = v["seconds_per_epoch"] / first
    task = f"scaling ({args.experiment})"
    two_threads = procs["1 process x 2 threads"]["throughput_ratio"]
    result["readme_rows"] = [
        {"task": task, "method": "DDP, 2 processes x 1 thread vs 1 x 1", "metric":
         "throughput ratio", "value": ddp["throughput_ratio"], "reference": "≤ 2",
         "note": f"same global batch {args.batch_size}; 1 process x 2 threads: "
                 f"{two_threads:.2f}; final training loss "
                 f"{result['ddp_final_loss_rel_diff']:.1e} (relative) off one process's"},
        {"task": task, "method": "data 4× vs 1×", "metric": "epoch-time ratio",
         "value": result["data_growth"]["4x"]["ratio_to_1x"], "reference": "4 (linear)",
         "note": f"1× = {args.base_samples} samples, one process"},
    ]
    write_results(OUT, result)
    print(json.dumps({k: v for k, v in result.items() if k != "readme_rows"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
