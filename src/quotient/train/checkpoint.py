"""Checkpoints: atomic saves, the last two kept, corrupt files detected and set aside.

Files are named ``ckpt-<step>.pt``. They are loaded with ``torch.load(..., weights_only=True)``,
so a checkpoint from elsewhere is read as data and never runs code. Each checkpoint carries a
digest of its whole content (torch's format does not check tensor data), so flipped bytes are
caught as well as truncation. A file that cannot be read or does not match its digest raises
:class:`~quotient.errors.CheckpointError` naming it; :func:`load_latest_checkpoint` then renames
it to ``*.corrupt`` (never deleting it), logs a warning and falls back to the previous good one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from .io import atomic_write_bytes

__all__ = [
    "FORMAT",
    "checkpoint_path",
    "list_checkpoints",
    "load_checkpoint",
    "load_latest_checkpoint",
    "load_model_state",
    "prune_checkpoints",
    "save_checkpoint",
    "state_digest",
]

log = logging.getLogger("quotient.train")

FORMAT = "quotient-checkpoint-v1"
"""Value of the ``format`` key every checkpoint written here carries."""

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


def checkpoint_path(folder: str | os.PathLike[str], step: int) -> Path:
    """``folder/ckpt-<step>.pt``."""
    return Path(folder) / f"ckpt-{step}.pt"


def list_checkpoints(folder: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(step, path)`` of the checkpoints in ``folder``, oldest first (``*.corrupt`` ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _NAME.match(child.name)
        if match and child.is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def _feed(hasher: Any, obj: Any) -> None:
    """Hash ``obj`` structurally: containers, tensors (dtype, shape, bytes) and scalars."""
    if isinstance(obj, torch.Tensor):
        flat = obj.detach().cpu().contiguous().reshape(-1)
        hasher.update(f"T{obj.dtype}{tuple(obj.shape)}".encode())
        if flat.numel():
            hasher.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        hasher.update(f"d{len(obj)}".encode())
        for key, value in obj.items():
            _feed(hasher, key)
            _feed(hasher, value)
    elif isinstance(obj, (list, tuple)):
        hasher.update(f"{type(obj).__name__[0]}{len(obj)}".encode())
        for value in obj:
            _feed(hasher, value)
    else:
        hasher.update(f"p{type(obj).__name__}:{obj!r};".encode())


def state_digest(state: dict[str, Any]) -> str:
    """A BLAKE2b digest of a checkpoint state (everything but ``format`` and ``digest``)."""
    hasher = hashlib.blake2b(digest_size=32)
    _feed(hasher, {k: v for k, v in state.items() if k not in ("format", "digest")})
    return hasher.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Save ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically.

    ``format`` and ``digest`` keys are added so that loading can tell a checkpoint from an
    unrelated file and detect corrupted bytes.
    """
    payload = {"format": FORMAT, "digest": state_digest(state), **state}
    return atomic_write_bytes(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load one checkpoint on the CPU with ``weights_only=True``.

    Raises:
        CheckpointError: the file is missing, unreadable (corrupt or truncated) or not a
            checkpoint written by :func:`save_checkpoint`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to parse the file means the data is bad
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} is unreadable (corrupt or truncated): {reason}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} is not a quotient checkpoint (no format={FORMAT!r} entry)")
    if state.get("digest") != state_digest(state):
        raise CheckpointError(
            f"checkpoint {path} is corrupt: its content does not match the digest saved in it")
    return state


def _set_aside(path: Path) -> Path:
    """Rename a bad checkpoint to ``<name>.corrupt`` (``.corrupt.<n>`` if taken)."""
    target = path.with_name(path.name + ".corrupt")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt.{n}")
        n += 1
    os.replace(path, target)
    return target


def load_latest_checkpoint(
    folder: str | os.PathLike[str], *, set_aside: bool = True
) -> tuple[dict[str, Any], Path] | None:
    """Load the newest readable checkpoint in ``folder``; ``None`` when there is none.

    A checkpoint that cannot be read is reported with a warning, renamed to ``*.corrupt``
    (when ``set_aside``) and skipped in favour of the previous one.

    Raises:
        CheckpointError: checkpoints exist but none of them can be read.
    """
    candidates = list_checkpoints(folder)
    errors: list[str] = []
    for _, path in reversed(candidates):
        try:
            return load_checkpoint(path), path
        except CheckpointError as exc:
            errors.append(str(exc))
            moved = _set_aside(path) if set_aside else path
            log.warning("%s; set aside as %s, trying the previous checkpoint", exc, moved.name)
    if errors:
        raise CheckpointError(
            f"no readable checkpoint in {folder}: " + "; ".join(errors)
            + "; start again with --overwrite")
    return None


def prune_checkpoints(folder: str | os.PathLike[str], keep: int = 2) -> None:
    """Delete all but the newest ``keep`` checkpoints (``*.corrupt`` files are kept)."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    for _, path in list_checkpoints(folder)[:-keep]:
        path.unlink(missing_ok=True)


def load_model_state(run_dir: Any, model: torch.nn.Module) -> dict[str, Any]:
    """Load the weights of the latest checkpoint of ``run_dir`` (a :class:`RunDir` or a
    checkpoints folder) into ``model``; return the whole checkpoint (step, history, ...).

    Raises:
        CheckpointError: no checkpoint, none readable, or weights that do not fit ``model``.
    """
    folder = Path(getattr(run_dir, "checkpoints_dir", run_dir))
    found = load_latest_checkpoint(folder)
    if found is None:
        raise CheckpointError(f"no checkpoint in {folder}; train the run first")
    state, path = found
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"checkpoint {path} does not fit this model: {reason}") from exc
    return state
