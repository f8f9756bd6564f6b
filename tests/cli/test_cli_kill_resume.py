"""A run killed with SIGKILL and resumed ends exactly as an uninterrupted one."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import torch
from _cli_helpers import (
    TINY,
    cli_env,
    final_params,
    quotient_cmd,
    run_quotient,
    tiny_run_dir,
    without_timing,
)

pytestmark = pytest.mark.processes


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Path of a finished, uninterrupted tiny digits-c4 run."""
    return tiny_run_dir(tmp_path_factory)


def test_sigkill_then_resume_is_bit_identical(tmp_path, tiny_run):
    out = tmp_path / "killed"
    log = (tmp_path / "first.log").open("w")
    # pause at step 10 so the kill surely lands mid-run, after checkpoint 4 or 8
    proc = subprocess.Popen(quotient_cmd("train", "digits-c4", "--out", str(out), "--set", *TINY),
                            env=cli_env(QUOTIENT_DEBUG_PAUSE_AT_STEP="10"), stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "checkpoints").glob("ckpt-*.pt")):
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
    finally:
        proc.kill()  # SIGKILL on POSIX
        proc.wait(timeout=60)
        log.close()
    assert proc.returncode != 0
    assert not (out / "metrics.json").exists(), "the run finished before it was killed"
    steps = sorted(int(p.stem.split("-")[1]) for p in (out / "checkpoints").glob("ckpt-*.pt"))
    assert steps and steps[-1] in (4, 8)

    done = run_quotient("train", "digits-c4", "--out", str(out), "--resume", "--set", *TINY)
    assert done.returncode == 0, done.stderr
    assert f"resuming from ckpt-{steps[-1]}.pt" in done.stderr

    ref_params, got_params = final_params(tiny_run), final_params(out)
    assert ref_params.keys() == got_params.keys()
    for key in ref_params:
        assert torch.equal(ref_params[key], got_params[key]), key
    ref = json.loads((tiny_run / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert without_timing(got) == without_timing(ref)
    assert (out / "metrics.jsonl").read_text() == (tiny_run / "metrics.jsonl").read_text()
