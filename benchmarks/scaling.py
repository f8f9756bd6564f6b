"""Scaling benchmark: throughput with 1 and 2 processes (DistributedDataParallel, gloo on CPU)
and time per epoch as the training set grows (1×, 2×, 4×).

Runs ``quotient train EXPERIMENT`` through ``torch.distributed.run`` so the measured path is the
one users launch; each process uses one thread, so 2 processes use the machine's 2 cores.
Writes ``benchmarks/results/scaling.json``.

    python benchmarks/scaling.py [--experiment digits-c4] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "scaling.json"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(experiment: str, nproc: int, overrides: list[str], out: Path) -> dict:
    """One training run under torchrun; returns its metrics.json."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           f"--master_port={_port()}", "-m", "quotient", "train", experiment, "--out", str(out),
           "--set", *overrides]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads((out / "metrics.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="digits-c4")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--base-samples", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    common = [f"train.epochs={args.epochs}", f"train.batch_size={args.batch_size}",
              "train.progress=false", "train.device=cpu", "train.checkpoint_every=100000"]
    result: dict = {"experiment": args.experiment, "epochs": args.epochs,
                    "global_batch": args.batch_size, "processes": {}, "data_growth": {}}
    with tempfile.TemporaryDirectory() as tmp:
        n = 4 * args.base_samples
        for nproc in (1, 2):
            m = run(args.experiment, nproc, [*common, f"max_train_samples={n}"],
                    Path(tmp) / f"p{nproc}")
            samples = m["steps"] * args.batch_size
            result["processes"][str(nproc)] = {
                "train_seconds": m["train_seconds"], "samples_per_second":
                samples / m["train_seconds"], "final_metrics": m}
        p1, p2 = (result["processes"][k]["samples_per_second"] for k in ("1", "2"))
        result["speedup_2_vs_1"] = p2 / p1
        for factor in (1, 2, 4):
            size = factor * args.base_samples
            m = run(args.experiment, 1, [*common, f"max_train_samples={size}"],
                    Path(tmp) / f"d{factor}")
            result["data_growth"][f"{factor}x"] = {
                "samples": factor * args.base_samples,
                "seconds_per_epoch": m["train_seconds"] / args.epochs}
        base = result["data_growth"]["1x"]["seconds_per_epoch"]
        for v in result["data_growth"].values():
            v["ratio_to_1x"] = v["seconds_per_epoch"] / base
    result["readme_rows"] = [
        {"task": f"scaling ({args.experiment})", "method": "DDP, 2 CPU processes vs 1",
         "metric": "throughput ratio", "value": result["speedup_2_vs_1"], "reference": "≤ 2",
         "note": "same global batch"},
        {"task": f"scaling ({args.experiment})", "method": "data 4× vs 1×",
         "metric": "epoch-time ratio", "value": result["data_growth"]["4x"]["ratio_to_1x"],
         "reference": "4 (linear)", "note": ""},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = OUT.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2))
    tmp_out.replace(OUT)
    print(json.dumps({k: v for k, v in result.items() if k != "readme_rows"}, indent=2)[:2000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
