"""A run directory: config, metrics, checkpoints, plots and a report of one training run.

Layout::

    DIR/.quotient-run    marker: this folder is a run directory (safe to --overwrite)
    DIR/.quotient-lock   held (flock) by the process writing the run; a second one refuses
    DIR/config.json      full resolved config (written at start)
    DIR/metrics.jsonl    one JSON object per logged step or epoch
    DIR/metrics.csv      the same records as a table (written at checkpoints and at the end)
    DIR/metrics.json     final flat figures (written at the end)
    DIR/checkpoints/     ckpt-<step>.pt, the last two kept
    DIR/plots/           PNG figures
    DIR/report.md, DIR/report.html

Every file is written atomically. Under ``torchrun`` only rank 0 writes; other ranks get a
read-only view of the same folder. The writing process holds an exclusive lock on the folder
(``flock``, released by the operating system when the process ends, even by SIGKILL), so two
trainings on the same ``--out`` never interleave: the second one refuses to start.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import RunDirError
from .io import append_line, atomic_write_json, atomic_write_text, json_safe

__all__ = ["RunDir", "env_rank"]

CONFIG = "config.json"
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
MARKER = ".quotient-run"
LOCK = ".quotient-lock"
CHECKPOINTS = "checkpoints"
PLOTS = "plots"


def env_rank() -> int:
    """The process rank set by ``torchrun`` (``RANK``), 0 when not launched that way."""
    value = os.environ.get("RANK", "0")
    try:
        return int(value)
    except ValueError as exc:
        raise RunDirError(f"environment variable RANK={value!r} is not an integer") from exc


class RunDir:
    """A folder holding one run.

    Args:
        path: the folder; created if missing.
        resume: continue the run already in ``path`` (it must hold one).
        overwrite: replace the run already in ``path``. Only folders that hold a run (or are
            empty) are cleared, so a mistyped path cannot wipe unrelated files.
        rank: process rank; ranks other than 0 never write. Defaults to ``$RANK`` or 0.

    Raises:
        RunDirError: ``path`` already holds a run and neither flag is given, ``resume`` is given
            but there is nothing to resume, both flags are given, or ``path`` is not a folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        resume: bool = False,
        overwrite: bool = False,
        rank: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.rank = env_rank() if rank is None else rank
        self.resume = resume
        self.read_only = False
        self._lock: _Lock | None = None
        self.last_fit: Any = None
        """The :class:`~quotient.train.FitResult` of the latest ``fit`` into this run, if any."""
        if resume and overwrite:
            raise RunDirError("--resume and --overwrite exclude each other; pass one of them")
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"{self.path} exists and is not a directory; choose another --out")
        if not self.is_writer:
            return
        try:
            self._prepare(resume, overwrite)
        except OSError as exc:
            self.close()
            raise RunDirError(
                f"cannot create run directory {self.path}: {exc.strerror or exc}; choose a "
                "--out in a folder you can write to") from None

    def _prepare(self, resume: bool, overwrite: bool) -> None:
        holds_run = self.holds_run(self.path)
        non_empty = self.path.is_dir() and any(c.name != LOCK for c in self.path.iterdir())
        if resume:
            if not holds_run:
                raise RunDirError(
                    f"nothing to resume in {self.path}: no run found there; "
                    "drop --resume to start a new run")
        elif non_empty:
            if not holds_run:
                raise RunDirError(
                    f"directory {self.path} is not empty and does not hold a quotient run; "
                    "choose another --out")
            if not overwrite:
                raise RunDirError(
                    f"run directory {self.path} already holds a run; pass --resume to continue "
                    "it or --overwrite to replace it")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = _Lock.acquire(self.path / LOCK)  # before anything is cleared or written
        if non_empty and overwrite and not resume:
            self._clear()
        marker = self.path / MARKER
        if not marker.exists():
            atomic_write_text(marker, "quotient run directory\n")
        self.checkpoints_dir.mkdir(exist_ok=True)
        self.plots_dir.mkdir(exist_ok=True)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> RunDir:
        """Open an existing run for evaluation or reports: no folder is created, nothing is
        cleared or locked. With ``read_only`` nothing is ever written either (``write_*``
        calls do nothing), e.g. to inspect a run while it trains.

        Raises:
            RunDirError: ``path`` does not hold a run.
        """
        if not (Path(path) / CONFIG).is_file():
            raise RunDirError(f"{path} does not hold a quotient run (no {CONFIG} there)")
        rd = cls.__new__(cls)
        rd.path, rd.rank, rd.resume, rd.read_only = Path(path), env_rank(), True, read_only
        rd._lock, rd.last_fit = None, None
        return rd

    def close(self) -> None:
        """Release the lock on the folder (also released when the process ends)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def holds_run(path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is a run directory (it has the marker file or a ``config.json``)."""
        return (Path(path) / MARKER).is_file() or (Path(path) / CONFIG).is_file()

    @property
    def is_writer(self) -> bool:
        """Whether this process writes files (rank 0, unless opened read-only)."""
        return self.rank == 0 and not self.read_only

    @property
    def checkpoints_dir(self) -> Path:
        """Folder of ``ckpt-<step>.pt`` files."""
        return self.path / CHECKPOINTS

    @property
    def plots_dir(self) -> Path:
        """Folder of figures."""
        return self.path / PLOTS

    def file(self, name: str) -> Path:
        """Path of a file in the run directory."""
        return self.path / name

    def plot_path(self, name: str) -> Path:
        """Path for a figure ``plots/<name>`` (``.png`` appended when missing)."""
        return self.plots_dir / (name if "." in name else f"{name}.png")

    def _clear(self) -> None:
        for child in self.path.iterdir():
            if child.name == LOCK:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    # -- config -------------------------------------------------------------------------------
    def write_config(self, payload: Mapping[str, Any]) -> None:
        """Write ``config.json`` atomically (rank 0 only)."""
        if self.is_writer:
            atomic_write_json(self.file(CONFIG), dict(payload))

    def read_config(self) -> dict[str, Any]:
        """Read ``config.json``."""
        return _read_json(self.file(CONFIG))

    # -- metrics ------------------------------------------------------------------------------
    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` (rank 0 only)."""
        if self.is_writer:
            append_line(self.file(METRICS_JSONL), json.dumps(json_safe(dict(record))))

    def write_metrics_log(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` and ``metrics.csv`` atomically from ``records``."""
        if not self.is_writer:
            return
        rows = [json_safe(dict(r)) for r in records]
        atomic_write_text(self.file(METRICS_JSONL), "".join(json.dumps(r) + "\n" for r in rows))
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        atomic_write_text(self.file(METRICS_CSV), buffer.getvalue())

    def read_metrics_log(self) -> list[dict[str, Any]]:
        """Records of ``metrics.jsonl``; a torn last line (after a crash) is skipped."""
        path = self.file(METRICS_JSONL)
        if not path.is_file():
            return []
        records = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if number == len(lines):
                    break
                raise RunDirError(f"{path} line {number} is not valid JSON: {exc}") from exc
        return records

    def write_final_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Write the final figures to ``metrics.json`` (rank 0 only)."""
        if self.is_writer:
            atomic_write_json(self.file(METRICS_JSON), dict(metrics))

    def read_final_metrics(self) -> dict[str, Any]:
        """Read ``metrics.json`` ({} when the run has not finished)."""
        path = self.file(METRICS_JSON)
        return _read_json(path) if path.is_file() else {}

    # -- other files --------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """Write a text file in the run directory atomically (rank 0 only)."""
        path = self.file(name)
        if self.is_writer:
            atomic_write_text(path, text)
        return path

    def write_json(self, name: str, obj: Any) -> Path:
        """Write a JSON file in the run directory atomically (rank 0 only)."""
        path = self.file(name)
        if self.is_writer:
            atomic_write_json(path, obj)
        return path

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunDirError(f"{path} is missing") from exc
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RunDirError(f"{path} should hold a JSON object, found {type(data).__name__}")
    return data


class _Lock:
    """An exclusive ``flock`` on a file, shared by every :class:`RunDir` of this process that
    opens the same folder (a process may reopen its own run, e.g. train then resume)."""

    _held: dict[str, _Lock] = {}

    def __init__(self, key: str, fd: int) -> None:
        self.key, self.fd, self.count = key, fd, 1

    @classmethod
    def acquire(cls, path: Path) -> _Lock | None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (documented)
            return None
        key = os.path.realpath(path)
        held = cls._held.get(key)
        if held is not None:
            held.count += 1
            return held
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"run directory {path.parent} is in use by another quotient process (pid "
                f"{owner}); wait for it to finish, or choose another --out") from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        lock = cls._held[key] = cls(key, fd)
        return lock

    def release(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._held.pop(self.key, None)
            os.close(self.fd)  # closing the descriptor releases the flock
