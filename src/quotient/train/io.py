"""Atomic file writes: a reader sees the old file or the new one, never a partial one.

Each write goes to a temporary file in the same folder, is flushed and ``fsync``-ed, and then
replaces the target with :func:`os.replace` (atomic on POSIX and Windows). If writing raises,
the temporary file is removed and the old file is left untouched.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "save_png",
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


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], Any]
) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` atomically.

    Returns the path written. The folder must exist.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()


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
