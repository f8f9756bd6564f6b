"""Atomic file writes: a reader sees the old file or the new one, never a partial one.

Each write goes to a temporary file in the same folder, is flushed and ``fsync``-ed, and then
replaces the target with :func:`os.replace` (atomic on POSIX and Windows). If writing raises,
the temporary file is removed and the old file is left untouched. A write that the operating
system refuses (a full disk, a read-only folder) raises :class:`~quotient.errors.StorageError`,
one line naming the file, the reason and the fix.

Fault injection (for tests; both read from the environment at every write):
``QUOTIENT_DEBUG_SLOW_WRITE=s`` sleeps ``s`` seconds half-way through every atomic write, so a
process can be killed inside one; ``QUOTIENT_DEBUG_FAIL_WRITE=NAME`` makes writes of files whose
name contains ``NAME`` fail as on a full disk (``ENOSPC``).
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import StorageError

__all__ = [
    "save_png",
    "storage_error",
    "append_line",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "json_safe",
]


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_HINTS = {
    errno.ENOSPC: "the disk is full; free some space, then continue with --resume",
    errno.EDQUOT: "the disk quota is used up; free some space, then continue with --resume",
    errno.EACCES: "this folder is not writable; choose another --out",
    errno.EPERM: "this folder is not writable; choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
}


def storage_error(path: str | os.PathLike[str], exc: OSError,
                  action: str = "write") -> StorageError:
    """A one-line :class:`StorageError` for an ``OSError`` met while writing ``path``."""
    reason = exc.strerror or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0, "check the path and the disk, then try again")
    err = StorageError(f"could not {action} {path}: {reason}; {hint}")
    err.errno = exc.errno  # kept for handlers; str(err) stays the one-line message
    return err


def _debug_faults(target: Path, handle: BinaryIO) -> None:
    """The fault-injection hooks of the module docstring (no-ops unless set)."""
    pattern = os.environ.get("QUOTIENT_DEBUG_FAIL_WRITE")
    if pattern and pattern in target.name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    delay = os.environ.get("QUOTIENT_DEBUG_SLOW_WRITE")
    if delay:
        handle.flush()
        time.sleep(float(delay))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path written. The folder must exist.

    Raises:
        StorageError: the operating system refused the write (nothing at ``path`` changed).
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            _debug_faults(target, handle)
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise storage_error(target, exc) from exc
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """Turn ``value`` into plain JSON: tensors and numpy scalars to numbers, NaN/inf to strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`json_safe`)."""
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=2, sort_keys=False) + "\n")


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one complete line with a single ``write`` call and flush it.

    Used for logs that grow during training (``metrics.jsonl``); the trainer rewrites such a file
    atomically at every checkpoint, so a line torn by a crash is repaired on resume.
    """
    try:
        pattern = os.environ.get("QUOTIENT_DEBUG_FAIL_WRITE")
        if pattern and pattern in Path(path).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()
    except OSError as exc:
        raise storage_error(path, exc, "append to") from exc


def save_png(fig: Any, path: str | os.PathLike[str], *,  # noqa: ANN401 - a matplotlib Figure
             tight_bbox: bool = True) -> Path:
    """Render a matplotlib figure to ``path`` as PNG atomically (creating the folder).

    ``tight_bbox`` crops the canvas to the drawn content (``bbox_inches="tight"``); without it
    the figure keeps its size (lay it out first, e.g. ``fig.tight_layout()``).
    """
    import io

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **({"bbox_inches": "tight"} if tight_bbox else {}))
    return atomic_write_bytes(target, buffer.getvalue())
