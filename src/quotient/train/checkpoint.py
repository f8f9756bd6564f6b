"""Checkpoints: atomic saves, the last two kept, corrupt files detected and set aside.

Files are named ``ckpt-<step>.pt``. They are loaded with ``torch.load(..., weights_only=True)``,
so a checkpoint from elsewhere is read as data and never runs code. Each checkpoint carries a
digest of its whole content (torch's format does not check tensor data), so flipped bytes are
caught as well as truncation. A file that cannot be read or does not match its digest raises
:class:`~quotient.errors.CheckpointError` naming it; :func:`load_latest_checkpoint` then falls
back to the previous good one with a warning (and, when resuming a training, renames the bad one
to ``*.corrupt``, never deleting it). A file holding pickled objects other than plain data is
refused outright with :class:`~quotient.errors.UnsafeFileError`: nothing in it is executed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, UnsafeFileError
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
_SAFE_MODULES = ("torch", "collections")  # what torch.save itself refers to


def _foreign_globals(path: Path) -> list[str]:
    """The names outside torch that the pickle inside a torch zip file refers to (the objects
    it would construct or call), read with :mod:`pickletools` — parsed, never executed. Empty
    for a file that is no well-formed torch zip (that is damage, not a planted object)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
            if name is None:
                return []
            stream = archive.read(name)
        strings: list[str] = []
        found: list[str] = []
        for op, arg, _ in pickletools.genops(stream):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError):
        return []
    return sorted({g for g in found if g.split(".")[0] not in _SAFE_MODULES})


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
    buffer = io.BytesIO()  # serialise first, so a failing disk surfaces as one clear OSError
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


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
    except pickle.UnpicklingError as exc:
        foreign = _foreign_globals(path)
        if foreign:
            raise UnsafeFileError(
                f"refused to load checkpoint {path}: it holds Python objects other than tensors "
                f"and plain data ({', '.join(foreign[:3])}), and unpickling them could run code; "
                "quotient never writes such files, so it came from elsewhere — remove it, or "
                "start again with --overwrite") from None
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} is unreadable (corrupt or truncated): {reason}") from exc
    except Exception as exc:  # any other failure to parse the file means the data is bad
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
    folder: str | os.PathLike[str], *, set_aside: bool = False
) -> tuple[dict[str, Any], Path] | None:
    """Load the newest readable checkpoint in ``folder``; ``None`` when there is none.

    A damaged checkpoint (corrupt or truncated, e.g. by a crash) is skipped in favour of the
    previous one, with a warning naming it; with ``set_aside`` (training resumes do this) it is
    also renamed to ``*.corrupt``, never deleted. Reading alone never changes the folder.

    Raises:
        UnsafeFileError: a checkpoint holds objects other than plain data (refused outright:
            that is not damage, the file came from elsewhere).
        CheckpointError: checkpoints exist but none of them can be read (one line naming them).
    """
    candidates = list_checkpoints(folder)
    damaged: list[tuple[Path, CheckpointError]] = []
    for _, path in reversed(candidates):
        try:
            state = load_checkpoint(path)
        except UnsafeFileError:
            raise
        except CheckpointError as exc:
            damaged.append((path, exc))
            continue
        for bad, exc in damaged:
            moved = f"; set aside as {_set_aside(bad).name}" if set_aside else ""
            log.warning("%s%s; using %s", exc, moved, path.name)
        return state, path
    if damaged:
        names = ", ".join(p.name for p, _ in damaged)
        if set_aside:
            for bad, _ in damaged:
                _set_aside(bad)
        first = str(damaged[0][1]).split(": ", 1)[-1] if len(damaged) == 1 else "all damaged"
        raise CheckpointError(
            f"no readable checkpoint in {folder} ({names}: {first}); start again with "
            "--overwrite")
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
    found = load_latest_checkpoint(folder)  # reading never renames or deletes
    if found is None:
        raise CheckpointError(f"no checkpoint in {folder}; train the run first")
    state, path = found
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"checkpoint {path} does not fit this model: {reason}") from exc
    return state
