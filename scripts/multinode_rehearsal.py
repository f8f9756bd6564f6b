"""Rehearse multi-node training on one machine: two ``torchrun`` launchers as two nodes.

    python scripts/multinode_rehearsal.py [--json rehearsal.json]

1. A single process trains digits-c4 in float64 (the reference, same global batch).
2. Two launchers, ``--nnodes=2 --node_rank=0/1``, one process each, meet on the loopback
   address (static rendezvous, as on a cluster with a fixed master) and train the same run:
   every logged loss and the final parameters must match the single process.
3. The same two-node job again, into a fresh folder; once a checkpoint exists, node 1 is killed
   with SIGKILL (its launcher and worker; writes are slowed by the test hook so this lands
   mid-run). Node 0 notices the lost peer at its next collective and stops. Both nodes
   are launched again with ``--resume``; the run ends with the single process's parameters.

Exit status 0 when every comparison holds. Not part of the test suite (three launches take a
minute or two); its output is recorded in ``docs/scaling.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["train.epochs=3", "train.batch_size=16", "max_train_samples=96",
            "max_test_samples=64", "channels=2", "hidden=8", "train.checkpoint_every=3",
            "train.log_every=1", "train.progress=false", "train.device=cpu", "dtype=float64"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node(rank: int, port: int, out: Path, log: Path, *extra: str,
          slow: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={rank}",
           "--nproc_per_node=1", "--master_addr=127.0.0.1", f"--master_port={port}",
           "-m", "quotient", "train", "digits-c4", "--out", str(out), "--set", *SETTINGS,
           *extra]
    handle = log.open("w")
    env = {**_env(), **({"QUOTIENT_DEBUG_SLOW_WRITE": "0.3"} if slow else {})}
    return subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _two_nodes(out: Path, logs: Path, tag: str, *extra: str,
               slow: bool = False) -> list[subprocess.Popen]:
    port = _port()
    return [_node(r, port, out, logs / f"{tag}-node{r}.log", *extra, slow=slow) for r in (0, 1)]


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (torchrun's workers may sit in sessions of
    their own, out of reach of a process-group kill)."""
    def children(p: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            text = (task / "children").read_text() if (task / "children").exists() else ""
            found += [int(c) for c in text.split()]
        return found

    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children(p)
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _params(run: Path) -> dict[str, torch.Tensor]:
    sys.path.insert(0, str(ROOT / "src"))
    from quotient.train import load_latest_checkpoint

    found = load_latest_checkpoint(run / "checkpoints")
    assert found is not None, f"no checkpoint in {run}"
    return found[0]["model"]


def _max_rel(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-300)) for k in b)


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == "train"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        single, two, killed = tmp_path / "single", tmp_path / "two", tmp_path / "killed"
        subprocess.run([sys.executable, "-m", "quotient", "train", "digits-c4", "--out",
                        str(single), "--set", *SETTINGS], env=_env(), check=True,
                        capture_output=True)

        started = time.perf_counter()
        nodes = _two_nodes(two, tmp_path, "plain")
        codes = [n.wait(timeout=600) for n in nodes]
        report["two_nodes_seconds"] = round(time.perf_counter() - started, 1)
        if codes != [0, 0]:
            print((tmp_path / "plain-node0.log").read_text())
            raise SystemExit(f"two-node run failed: exit codes {codes}")
        ref, got = _losses(single), _losses(two)
        report["steps"] = len(ref)
        report["loss_max_rel_diff"] = max(abs(a - b) / abs(b) for a, b in zip(got, ref,
                                                                               strict=True))
        report["params_max_rel_diff"] = _max_rel(_params(two), _params(single))
        report["world_size"] = json.loads((two / "config.json").read_text())["world_size"]

        # checkpoint writes slowed (rank 0 writes them), so the kill lands mid-run
        nodes = _two_nodes(killed, tmp_path, "kill", slow=True)
        deadline = time.monotonic() + 600
        while not list((killed / "checkpoints").glob("ckpt-*.pt")):
            if time.monotonic() > deadline or any(n.poll() is not None for n in nodes):
                raise SystemExit("no checkpoint appeared before the kill")
            time.sleep(0.01)
        _kill_tree(nodes[1].pid)
        codes = [n.wait(timeout=600) for n in nodes]
        report["after_kill_exit_codes"] = codes
        report["node0_saw"] = next((line.strip()[:200] for line in
                                    (tmp_path / "kill-node0.log").read_text().splitlines()
                                    if "Error" in line and "gloo" in line.lower()), None)
        report["checkpoints_after_kill"] = sorted(
            p.name for p in (killed / "checkpoints").glob("ckpt-*.pt"))
        nodes = _two_nodes(killed, tmp_path, "resume", "--resume")
        codes = [n.wait(timeout=600) for n in nodes]
        if codes != [0, 0]:
            print((tmp_path / "resume-node0.log").read_text())
            raise SystemExit(f"resumed two-node run failed: exit codes {codes}")
        log0 = (tmp_path / "resume-node0.log").read_text()
        report["resumed_from"] = next((line.split("resuming from ")[1].split(" ")[0]
                                       for line in log0.splitlines() if "resuming from" in line),
                                      None)
        report["resumed_params_max_rel_diff"] = _max_rel(_params(killed), _params(single))
    ok = (report["world_size"] == 2 and report["loss_max_rel_diff"] < 1e-9
          and report["params_max_rel_diff"] < 1e-9
          and report["resumed_params_max_rel_diff"] < 1e-9
          and report["after_kill_exit_codes"] != [0, 0] and report["resumed_from"])
    report["ok"] = bool(ok)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
