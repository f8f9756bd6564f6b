"""Optional TensorBoard logging of a run (``--set train.tensorboard=true`` or ``--tensorboard``).

Writes into ``<run>/tensorboard/``: every record of ``metrics.jsonl`` as scalars (tag
``<kind>/<name>``, e.g. ``train/loss`` or ``epoch/test_rec``, at the record's step), and at the
end of the run the final metrics (``final/<name>``) and the report's figures (``plots/<name>``).
Training records are written as they are logged; records an experiment writes by itself (the
dynamics experiments) are exported when the run ends. Needs the optional dependency
``pip install 'quotient[tensorboard]'``; without it the command line stops with one line saying so.
"""

from __future__ import annotations

import importlib
import json
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .hooks import Callback

if TYPE_CHECKING:
    from .loop import Trainer
    from .rundir import RunDir

__all__ = ["TENSORBOARD_DIR", "TensorBoardLogger", "export_run", "require_tensorboard"]

TENSORBOARD_DIR = "tensorboard"
"""Folder of a run directory that holds the TensorBoard event files."""

_MISSING = ("TensorBoard logging needs the tensorboard package, which is not installed; "
            "install it with: pip install 'quotient[tensorboard]'")
_KEYS = ("kind", "label", "strategy", "seed")  # parts of a record that name it, not values


def require_tensorboard() -> None:
    """Check that TensorBoard can be written.

    Raises:
        ConfigError: the ``tensorboard`` package is missing (the message names the extra to
            install).
    """
    try:
        importlib.import_module("tensorboard")
        importlib.import_module("torch.utils.tensorboard")
    except ImportError:
        raise ConfigError(_MISSING) from None


def _writer(path: Path, purge_step: int | None = None) -> Any:  # noqa: ANN401 - SummaryWriter
    require_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(path), purge_step=purge_step)


def _scalars(record: Mapping[str, Any]) -> Iterable[tuple[str, float]]:
    """``(tag, value)`` of each numeric value of a ``metrics.jsonl`` record."""
    head = "/".join(str(record[k]) for k in _KEYS if k in record) or "record"
    for key, value in record.items():
        if key in _KEYS or key in ("step", "epoch") or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real):
            yield f"{head}/{key}", float(value)


class TensorBoardLogger(Callback):
    """A :class:`~quotient.train.Callback` that writes each logged record as scalars.

    Args:
        run_dir: the run directory (events go to its ``tensorboard/`` folder).
        purge_step: on resumption, the step of the checkpoint: events at or after it, written
            by the interrupted run, are dropped so curves are not drawn twice.
    """

    def __init__(self, run_dir: RunDir, purge_step: int | None = None) -> None:
        self.writer = _writer(run_dir.path / TENSORBOARD_DIR, purge_step or None)

    def on_log(self, trainer: Trainer, record: Mapping[str, Any]) -> None:
        step = int(record.get("step", trainer.step))
        for tag, value in _scalars(record):
            self.writer.add_scalar(tag, value, step)

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def export_run(run_dir: RunDir, metrics: Mapping[str, Any], *, records: bool) -> Path:
    """Write a finished run's final metrics and figures (and, with ``records``, every record of
    its ``metrics.jsonl``) to ``<run>/tensorboard/``; returns that folder."""
    import numpy as np
    from PIL import Image

    folder = run_dir.path / TENSORBOARD_DIR
    log = run_dir.read_metrics_log()
    last = max((int(r.get("step", 0)) for r in log if isinstance(r.get("step"), int)), default=0)
    writer = _writer(folder)
    try:
        if records:
            for i, record in enumerate(log):
                step = record.get("step", i)
                for tag, value in _scalars(record):
                    writer.add_scalar(tag, value, int(step))
        for name, value in metrics.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                writer.add_scalar(f"final/{name}", float(value), last)
        writer.add_text("final/metrics", "```\n" + json.dumps(dict(metrics), indent=1,
                                                               default=str) + "\n```", last)
        if run_dir.plots_dir.is_dir():
            for png in sorted(run_dir.plots_dir.glob("*.png")):
                with Image.open(png) as image:
                    pixels = np.asarray(image.convert("RGB"))
                writer.add_image(f"plots/{png.stem}", pixels, last, dataformats="HWC")
    finally:
        writer.close()
    return folder
