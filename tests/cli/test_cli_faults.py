"""Faults injected, not assumed: kills, full disks, a second training on the same folder,
damaged or planted checkpoints, runs from elsewhere and exploding losses.

Each case asserts that nothing saved is lost or silently changed, and that the user sees one
line (exit status 2) that names the problem and the fix.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from _cli_helpers import (
    TINY,
    cli_env,
    final_params,
    main_single_thread,
    quotient_cmd,
    run_quotient,
    tiny_run_dir,
    without_timing,
)

from quotient.cli import main
from quotient.train import RunDir, load_checkpoint

FAULTS = {
    # name: (command, what happened, the message; {placeholders} are filled in by the tests)
    "disk full while saving": (
        "train", "the disk fills up while a checkpoint or the metrics are written",
        "could not write {file}: No space left on device; the disk is full; free some space, "
        "then continue with --resume"),
    "second training on the same folder": (
        "train --resume / --overwrite", "another process is training into the same --out",
        "run directory {out} is in use by another quotient process (pid {pid}); wait for it to "
        "finish, or choose another --out"),
    "every checkpoint damaged": (
        "evaluate, train --resume", "all checkpoints are truncated or corrupt",
        "no readable checkpoint in {out}/checkpoints (ckpt-18.pt, ckpt-16.pt: all damaged); "
        "start again with --overwrite"),
    "planted checkpoint": (
        "evaluate, train --resume", "a checkpoint holds pickled objects (code)",
        "refused to load checkpoint {out}/checkpoints/ckpt-18.pt: it holds Python objects other "
        "than tensors and plain data (io.open), and unpickling them could run code; quotient "
        "never writes such files, so it came from elsewhere — remove it, or start again with "
        "--overwrite"),
    "planted data file": (
        "train --set data=FILE", "a data file holds pickled objects (code)",
        "refused to read data file {path}: it holds pickled Python objects (object arrays), "
        "and unpickling them could run code; store plain numeric arrays"),
    "run of an unknown experiment": (
        "evaluate, report", "config.json names an experiment this version lacks",
        "{out}/config.json names train experiment 'hexagons', which quotient 0.1.0 does not "
        "have (written by quotient 9.9.9); use the version that wrote it"),
    "settings of another version": (
        "evaluate", "config.json has settings this version does not know",
        "the settings in {out}/config.json (written by quotient 9.9.9) do not fit 'digits-c4' "
        "of quotient 0.1.0: unknown setting 'kernel_shape'"),
    "loss explodes": (
        "train", "the loss becomes NaN or infinite",
        "loss is nan at step 2 (epoch 0, batch 1); training stopped without saving (ckpt-1.pt "
        "is intact); lower train.lr or set train.grad_clip, then continue with --resume"),
}


def _fault(name: str, **values: object) -> str:
    return FAULTS[name][2].format(**values)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished, uninterrupted tiny digits-c4 run (18 steps, checkpoints at 4, 8, 12, 16)."""
    return tiny_run_dir(tmp_path_factory)


def _one_line(code: int, err: str, *fragments: str) -> None:
    """Exit status 2 and the error as one line, the last one (progress lines may precede it)."""
    assert code == 2, err
    assert "Traceback" not in err
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("quotient: error: ") and err.count("quotient: error") == 1, err
    for fragment in fragments:
        assert fragment in last, err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".quotient-lock"}


def _assert_same_run(got: Path, ref: Path) -> None:
    ref_params, got_params = final_params(ref), final_params(got)
    assert ref_params.keys() == got_params.keys()
    for key in ref_params:
        assert torch.equal(ref_params[key], got_params[key]), key
    assert without_timing(json.loads((got / "metrics.json").read_text())) == \
        without_timing(json.loads((ref / "metrics.json").read_text()))
    assert (got / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()


def _assert_nothing_damaged(out: Path) -> None:
    """Every checkpoint present loads and matches its digest; the logs parse."""
    for path in (out / "checkpoints").glob("ckpt-*.pt"):
        load_checkpoint(path)  # raises on a torn or altered file
    if (out / "config.json").exists():
        json.loads((out / "config.json").read_text())
    RunDir.open(out, read_only=True).read_metrics_log()  # only a torn last line is tolerated


def _planted_checkpoint(path: Path, sentinel: Path) -> None:
    """A file in torch's format whose unpickling would create ``sentinel``."""

    class Payload:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    torch.save({"format": "quotient-checkpoint-v1", "model": Payload()}, path)


# --- kills ------------------------------------------------------------------------------------


LONG = [*TINY, "train.epochs=16"]
"""96 steps with a checkpoint every 4: with slowed writes, long enough for 20 kills."""


@pytest.mark.processes
def test_twenty_sigkills_then_resume_end_as_an_uninterrupted_run(tmp_path):
    """SIGKILL at 20 moments of one run (seeded), every fourth one while a checkpoint is being
    written (writes are slowed by the test hook); after each kill everything saved loads,
    and resuming to the end gives the uninterrupted run's parameters and metrics."""
    ref = tmp_path / "ref"
    assert main_single_thread(["train", "digits-c4", "--out", str(ref), "--set", *LONG]) == 0
    out = tmp_path / "run"
    rng = random.Random(20)
    env = cli_env(QUOTIENT_DEBUG_SLOW_WRITE="0.1")
    kills, inside_write = 0, 0
    for attempt in range(20):
        if (out / "metrics.json").exists():
            break  # finished between kills: nothing left to interrupt
        args = ["train", "digits-c4", "--out", str(out), "--set", *LONG]
        if (out / "config.json").exists():
            args.append("--resume")
        log = tmp_path / f"segment-{attempt}.log"
        with log.open("w") as handle:
            proc = subprocess.Popen(quotient_cmd(*args), env=env, stdout=handle,
                                    stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "training " not in log.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.01)
            if attempt % 4 == 3:  # inside a checkpoint write: its temporary file exists
                while proc.poll() is None and not list((out / "checkpoints").glob(".ckpt-*")):
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.002)
                inside_write += proc.poll() is None
            else:
                time.sleep(rng.uniform(0.0, 0.8))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
        assert proc.returncode in (0, -signal.SIGKILL), log.read_text()
        _assert_nothing_damaged(out)
    assert kills >= 15 and inside_write >= 3, (kills, inside_write)
    done = run_quotient("train", "digits-c4", "--out", str(out), "--resume", "--set", *LONG)
    assert done.returncode == 0, done.stderr
    assert not list((out / "checkpoints").glob(".ckpt-*")), "leftover temporary files"
    _assert_same_run(out, ref)


# --- full disk --------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["ckpt-8.pt", "metrics.jsonl", "metrics.csv"])
def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(failing, tmp_path, tiny_run,
                                                               monkeypatch, capsys):
    """ckpt-8.pt: the second checkpoint fails; metrics.jsonl and metrics.csv: the logs are
    rewritten when training starts, and that fails."""
    out = tmp_path / "run"
    monkeypatch.setenv("QUOTIENT_DEBUG_FAIL_WRITE", failing)
    code = main_single_thread(["train", "digits-c4", "--out", str(out), "--set", *TINY])
    file = out / "checkpoints" / failing if failing.startswith("ckpt") else out / failing
    _one_line(code, capsys.readouterr().err, _fault("disk full while saving", file=file))
    monkeypatch.delenv("QUOTIENT_DEBUG_FAIL_WRITE")
    left = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert left == {"ckpt-8.pt": ["ckpt-4.pt"], "metrics.jsonl": [],
                    "metrics.csv": []}[failing], left
    _assert_nothing_damaged(out)
    assert main_single_thread(["train", "digits-c4", "--out", str(out), "--resume", "--set",
                               *TINY]) == 0
    _assert_same_run(out, tiny_run)


# --- two trainings at once ----------------------------------------------------------------------


@pytest.mark.processes
def test_a_second_training_on_the_same_folder_refuses(tmp_path, tiny_run, capsys):
    out = tmp_path / "run"
    log = tmp_path / "first.log"
    with log.open("w") as handle:
        first = subprocess.Popen(quotient_cmd("train", "digits-c4", "--out", str(out), "--set",
                                              *TINY),
                                 env=cli_env(QUOTIENT_DEBUG_PAUSE_AT_STEP="10"), stdout=handle,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        jsonl = out / "metrics.jsonl"  # paused after step 10: the folder no longer changes
        while not (jsonl.exists() and '"step": 10,' in jsonl.read_text()):
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.02)
        before = _snapshot(out)
        for extra in (["--resume"], ["--overwrite"]):
            code = main(["train", "digits-c4", "--out", str(out), "--set", *TINY, *extra])
            _one_line(code, capsys.readouterr().err,
                      _fault("second training on the same folder", out=out, pid=first.pid))
        assert _snapshot(out) == before, "the refused run changed the folder"
    finally:
        first.send_signal(signal.SIGKILL)  # the lock goes with the process
        first.wait(timeout=60)
    assert main_single_thread(["train", "digits-c4", "--out", str(out), "--resume", "--set",
                               *TINY]) == 0
    _assert_same_run(out, tiny_run)


# --- checkpoints that cannot be used ------------------------------------------------------------


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".quotient-lock"))
    return dst


def test_every_checkpoint_unreadable_is_one_line(tmp_path, tiny_run, capsys):
    run = _copy_run(tiny_run, tmp_path / "run")
    for path in (run / "checkpoints").glob("ckpt-*.pt"):
        path.write_bytes(path.read_bytes()[:100])
    before = _snapshot(run)
    code = main(["evaluate", str(run)])
    _one_line(code, capsys.readouterr().err, _fault("every checkpoint damaged", out=run))
    assert _snapshot(run) == before, "evaluate must not rename or delete anything"
    code = main(["train", "digits-c4", "--out", str(run), "--resume", "--set", *TINY])
    _one_line(code, capsys.readouterr().err, "no readable checkpoint in")


@pytest.mark.parametrize("command", ["evaluate", "report", "resume"])
def test_a_planted_checkpoint_is_refused_and_never_executed(command, tmp_path, tiny_run,
                                                            capsys):
    run = _copy_run(tiny_run, tmp_path / "run")
    sentinel = tmp_path / "pwned"
    newest = run / "checkpoints" / "ckpt-18.pt"
    _planted_checkpoint(newest, sentinel)
    planted = newest.read_bytes()
    args = (["train", "digits-c4", "--out", str(run), "--resume", "--set", *TINY]
            if command == "resume" else [command, str(run)])
    code = main(args)
    err = capsys.readouterr().err
    assert not sentinel.exists(), "code in the checkpoint ran"
    if command == "report":  # reports read no checkpoint at all
        assert code == 0, err
    else:
        _one_line(code, err, _fault("planted checkpoint", out=run))
    assert newest.read_bytes() == planted, "the planted file is left for the user to inspect"


def test_a_crafted_data_file_is_refused_and_never_executed(tmp_path, capsys):
    import numpy as np

    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    images = np.empty(2, dtype=object)
    images[0], images[1] = Payload(), Payload()
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, labels=np.arange(2))
    code = main(["train", "rotated-mnist", "--out", str(tmp_path / "run"), "--set",
                 f"data={path}", "n_train=1", "n_test=1"])
    _one_line(code, capsys.readouterr().err, _fault("planted data file", path=path))
    assert not sentinel.exists() and not (tmp_path / "run").exists()


# --- runs from elsewhere ----------------------------------------------------------------------


def _rewrite_config(run: Path, **changes) -> None:
    config = json.loads((run / "config.json").read_text())
    config.update(changes)
    (run / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_a_run_of_an_experiment_this_version_lacks_says_so(command, tmp_path, tiny_run, capsys):
    run = _copy_run(tiny_run, tmp_path / "run")
    _rewrite_config(run, experiment="hexagons", versions={"quotient": "9.9.9"})
    code = main([command, str(run)])
    _one_line(code, capsys.readouterr().err, _fault("run of an unknown experiment", out=run))


def test_settings_another_version_wrote_say_which_version(tmp_path, tiny_run, capsys):
    run = _copy_run(tiny_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["config"]["kernel_shape"] = "hex"
    config["versions"]["quotient"] = "9.9.9"
    (run / "config.json").write_text(json.dumps(config))
    code = main(["evaluate", str(run)])
    _one_line(code, capsys.readouterr().err.splitlines()[-1] + "\n",
              _fault("settings of another version", out=run))


# --- losses that explode ----------------------------------------------------------------------


def test_a_nan_loss_stops_with_its_step_and_keeps_the_last_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main_single_thread(["train", "digits-c4", "--out", str(out), "--set", *TINY,
                               "train.checkpoint_every=1", "train.lr=1e9"])
    _one_line(code, capsys.readouterr().err, _fault("loss explodes"))
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-1.pt"]
    assert load_checkpoint(out / "checkpoints" / "ckpt-1.pt")["step"] == 1
    assert not (out / "metrics.json").exists()

