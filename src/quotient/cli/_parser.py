"""The argument parser of the ``quotient`` command."""

from __future__ import annotations

import argparse
from typing import NoReturn

from ..errors import QuotientError

__all__ = ["UsageError", "build_parser"]


class UsageError(QuotientError):
    """The command line itself is wrong (missing or unknown arguments)."""


class _Parser(argparse.ArgumentParser):
    """Raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


_EPILOG = """examples:
  quotient list
  quotient train digits-c4 --out runs/c4
  quotient train digits-c4 --out runs/c4 --set train.epochs=5 channels=8 --overwrite
  quotient train digits-c4 --out runs/c4 --resume
  torchrun --nproc_per_node=2 -m quotient train digits-c4 --out runs/c4-ddp
  quotient evaluate runs/c4
  quotient report runs/c4
  quotient compare runs/c4 runs/c4-ddp --out compare.html
"""


def _add_run_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument("experiment", metavar="EXPERIMENT",
                        help=f"name of the {kind} (see 'quotient list')")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory: config, metrics, checkpoints, plots, report")
    parser.add_argument("--config", metavar="FILE",
                        help="settings from a .json or .yaml/.yml file (a run's config.json works)")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", nargs="+",
                        action="extend", default=[],
                        help="override settings, dotted for nested ones: --set train.epochs=2 "
                             "train.lr=1e-3 (applied after --config; give EXPERIMENT before "
                             "--set; --show-config lists the keys)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in DIR from its latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run in DIR (only after all settings were checked)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log to DIR/tensorboard/ for TensorBoard: the scalars of "
                             "metrics.jsonl, the final metrics and the report's figures (same "
                             "as --set train.tensorboard=true; needs "
                             "pip install 'quotient[tensorboard]')")
    parser.add_argument("--show-config", action="store_true",
                        help="print the resolved settings as JSON and exit without training")


def build_parser() -> argparse.ArgumentParser:
    """The parser; each sub-command stores its handler under ``func``."""
    from . import _commands

    parser = _Parser(
        prog="quotient",
        description="Learning with symmetry: train, evaluate and report named experiments.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"quotient {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)

    p = sub.add_parser("list", help="list experiments, groups and data sets",
                       description="List registered experiments (and groups and data sets).")
    p.set_defaults(func=_commands.cmd_list)

    p = sub.add_parser("train", help="train an experiment into a run directory",
                       description="Train a registered experiment. Writes DIR/config.json at "
                                   "the start and DIR/metrics.json and a report at the end. "
                                   "Runs under torchrun with DistributedDataParallel too.")
    _add_run_arguments(p, "experiment")
    p.set_defaults(func=_commands.cmd_train)

    p = sub.add_parser("dynamics", help="run a training-dynamics experiment",
                       description="Run a registered dynamics experiment (equivariance versus "
                                   "augmentation); same options as 'train'.")
    _add_run_arguments(p, "dynamics experiment")
    p.set_defaults(func=_commands.cmd_dynamics)

    p = sub.add_parser("evaluate", help="recompute a run's metrics from its latest checkpoint",
                       description="Recompute the metrics of the run in DIR from its saved "
                                   "config and latest checkpoint; prints them and writes "
                                   "DIR/evaluation.json.")
    p.add_argument("dir", metavar="DIR", help="run directory")
    p.set_defaults(func=_commands.cmd_evaluate)

    p = sub.add_parser("report", help="rebuild a run's report.md and report.html",
                       description="Rebuild DIR/report.md and the self-contained "
                                   "DIR/report.html from the files of the run.")
    p.add_argument("dir", metavar="DIR", help="run directory")
    p.set_defaults(func=_commands.cmd_report)

    p = sub.add_parser("compare", help="put several runs side by side",
                       description="Print the final metrics of several runs as one table; "
                                   "with --out FILE.html also write a page with their "
                                   "learning curves overlaid.")
    p.add_argument("dirs", metavar="DIR", nargs="+", help="run directories")
    p.add_argument("--out", metavar="FILE.html", help="also write a self-contained HTML page")
    p.set_defaults(func=_commands.cmd_compare)
    return parser
