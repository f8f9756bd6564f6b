"""The ``quotient`` command: ``list``, ``train``, ``dynamics``, ``evaluate``, ``report``.

Errors the user can cause (:class:`~quotient.errors.QuotientError`) are printed as one line,
``quotient: error: ...``, with exit status 2; anything else is a bug and keeps its traceback.
Heavy modules (torch, experiments) are imported only by the commands that need them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from ..errors import QuotientError

__all__ = ["main"]


class _Formatter(logging.Formatter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        return f"{self.prefix}: {level}{record.getMessage()}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from ._parser import build_parser

    rank = os.environ.get("RANK", "0")
    logger = logging.getLogger("quotient")
    saved = (logger.level, logger.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("quotient" if rank == "0" else f"quotient[rank {rank}]"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if rank == "0" else logging.WARNING)
    logger.propagate = False
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except QuotientError as exc:
        print(f"quotient: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("quotient: interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
