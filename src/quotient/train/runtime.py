"""Small runtime helpers for training code: CPU threads, a quiet training log, parameter
counts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

__all__ = ["count_parameters", "quiet_training_log", "use_threads"]


@contextlib.contextmanager
def use_threads(threads: int) -> Iterator[None]:
    """Use ``threads`` intra-op CPU threads inside the block (0: leave torch's setting), then
    restore the previous setting. The small networks here run fastest on one thread, and
    several threads per process slow down badly when the cores are shared."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters (those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextlib.contextmanager
def quiet_training_log() -> Iterator[None]:
    """Silence the training loop's info and warning messages inside the block (for auxiliary
    fits such as baselines, whose time limit is their budget)."""
    logger = logging.getLogger("quotient.train")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
