"""Helpers for running the ``quotient`` command in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

SRC = Path(__file__).resolve().parents[2] / "src"

TINY = [
    "train.epochs=3", "train.batch_size=16", "max_train_samples=96", "max_test_samples=64",
    "channels=2", "hidden=8", "train.checkpoint_every=4", "train.log_every=1",
    "train.progress=false", "train.device=cpu",
]
"""A digits-c4 run of 18 steps (6 per epoch) that takes a second or two."""


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this source tree first, one thread, no torchrun."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore", **extra)
    return env


def quotient_cmd(*args: str) -> list[str]:
    """``python -m quotient ARGS``."""
    return [sys.executable, "-m", "quotient", *args]


def run_quotient(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -m quotient ARGS`` to completion, capturing its output."""
    return subprocess.run(quotient_cmd(*args), env=cli_env(**env), capture_output=True,
                          text=True, timeout=timeout, check=False)


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def final_params(run_dir: Path) -> dict[str, torch.Tensor]:
    """The model parameters of the newest checkpoint of a run."""
    from quotient.train import load_latest_checkpoint

    found = load_latest_checkpoint(run_dir / "checkpoints")
    assert found is not None, f"no checkpoint in {run_dir}"
    return found[0]["model"]


def without_timing(metrics: dict) -> dict:
    """Metrics without wall-clock figures (``*_seconds``)."""
    return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}


def main_single_thread(args: list[str]) -> int:
    """Run ``quotient.cli.main`` in this process with one intra-op thread (as the subprocesses
    run), restoring the thread count afterwards."""
    from quotient.cli import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main(args)
    finally:
        torch.set_num_threads(threads)


_TINY_RUN: list[Path] = []


def tiny_run_dir(tmp_path_factory: object) -> Path:
    """A finished tiny digits-c4 run, trained once per test session in this process."""
    if not _TINY_RUN:
        out = tmp_path_factory.mktemp("tiny") / "run"  # type: ignore[attr-defined]
        args = ["train", "digits-c4", "--out", str(out), "--set", *TINY]
        assert main_single_thread(args) == 0
        _TINY_RUN.append(out)
    return _TINY_RUN[0]
