"""Atomic writes and run directories."""

from __future__ import annotations

import errno
import json
import os

import pytest

from quotient.errors import RunDirError, StorageError
from quotient.train import RunDir, atomic_write_bytes, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_content(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"x": 1})
    atomic_write_json(path, {"x": 2, "nan": float("nan")})
    assert json.loads(path.read_text()) == {"x": 2, "nan": "nan"}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"], "temporary file left behind"


def test_a_full_disk_midway_keeps_the_old_file_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    atomic_write_text(path, "old content")

    def no_space(fd):  # the first half is written, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageError, match=r"could not write .*data.bin: No space left on "
                                           r"device; the disk is full; free some space"):
        atomic_write_bytes(path, b"new content")
    assert path.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"], "temporary file left behind"


def test_the_fault_hook_fails_only_matching_files(tmp_path, monkeypatch):
    monkeypatch.setenv("QUOTIENT_DEBUG_FAIL_WRITE", "ckpt-")
    atomic_write_text(tmp_path / "metrics.json", "{}")
    with pytest.raises(StorageError, match="ckpt-4.pt: No space left on device"):
        atomic_write_bytes(tmp_path / "ckpt-4.pt", b"x" * 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_rundir_layout_and_metrics(tmp_path):
    rd = RunDir(tmp_path / "run")
    assert rd.checkpoints_dir.is_dir() and rd.plots_dir.is_dir()
    assert RunDir.holds_run(rd.path)
    rd.write_config({"experiment": "x", "config": {}})
    rd.append_metrics({"step": 1, "loss": 0.5})
    rd.append_metrics({"step": 2, "loss": 0.25})
    assert [r["step"] for r in rd.read_metrics_log()] == [1, 2]
    rd.write_metrics_log([{"step": 1, "loss": 0.5}])
    assert rd.read_metrics_log() == [{"step": 1, "loss": 0.5}]
    assert rd.file("metrics.csv").read_text().splitlines() == ["step,loss", "1,0.5"]
    with open(rd.file("metrics.jsonl"), "a") as handle:  # a line torn by a crash
        handle.write('{"step": 2, "lo')
    assert len(rd.read_metrics_log()) == 1


def test_existing_run_refused_without_resume_or_overwrite(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_config({"experiment": "x", "config": {}})
    (rd.checkpoints_dir / "ckpt-1.pt").write_bytes(b"keep me")
    with pytest.raises(RunDirError, match="already holds a run; pass --resume to continue it or "
                                          "--overwrite to replace it"):
        RunDir(tmp_path)
    assert (rd.checkpoints_dir / "ckpt-1.pt").read_bytes() == b"keep me"
    RunDir(tmp_path, resume=True)
    assert (rd.checkpoints_dir / "ckpt-1.pt").exists()
    RunDir(tmp_path, overwrite=True)
    assert not (tmp_path / "config.json").exists()
    assert not (rd.checkpoints_dir / "ckpt-1.pt").exists()
    assert RunDir.holds_run(tmp_path), "the replaced folder is still a run directory"


def test_rundir_refuses_to_clear_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(RunDirError, match="does not hold a quotient run"):
        RunDir(tmp_path, overwrite=True)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_rundir_resume_needs_a_run(tmp_path):
    with pytest.raises(RunDirError, match="nothing to resume"):
        RunDir(tmp_path / "missing", resume=True)
    with pytest.raises(RunDirError, match="exclude each other"):
        RunDir(tmp_path, resume=True, overwrite=True)


def test_non_zero_rank_never_writes(tmp_path):
    rd = RunDir(tmp_path / "r1", rank=1)
    rd.write_config({"a": 1})
    rd.append_metrics({"a": 1})
    assert not (tmp_path / "r1").exists()


def test_save_png_writes_a_png_atomically_and_replaces(tmp_path):
    from matplotlib.figure import Figure

    from quotient.train.io import save_png

    fig = Figure(figsize=(2, 2))
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    target = tmp_path / "new" / "plot.png"
    assert save_png(fig, target) == target
    first = target.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    save_png(fig, target, tight_bbox=False)  # the full canvas: a different image
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.read_bytes() != first
    assert [p.name for p in target.parent.iterdir()] == ["plot.png"], "no temporary file left"


def test_a_full_disk_while_appending_a_log_line_is_one_line(tmp_path, monkeypatch):
    from quotient.train.io import append_line

    path = tmp_path / "metrics.jsonl"
    append_line(path, '{"step": 1}')
    monkeypatch.setenv("QUOTIENT_DEBUG_FAIL_WRITE", "metrics.jsonl")
    with pytest.raises(StorageError, match=r"could not append to .*metrics.jsonl: No space left "
                                           r"on device; the disk is full"):
        append_line(path, '{"step": 2}')
    assert path.read_text() == '{"step": 1}\n'
