"""Implementations of the ``quotient`` sub-commands."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ConfigError, RunDirError
from ._parser import UsageError

log = logging.getLogger("quotient.cli")


def _optional_module(name: str) -> ModuleType | None:
    """Import ``name``; ``None`` only when that module itself does not exist."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _first_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _print_section(title: str, rows: list[tuple[str, str]], empty: str) -> None:
    print(title)
    if not rows:
        print(f"  ({empty})")
    width = max((len(name) for name, _ in rows), default=0)
    for name, text in rows:
        print(f"  {name.ljust(width)}  {text}".rstrip())
    print()


def cmd_list(args: argparse.Namespace) -> int:
    """``quotient list``."""
    from .. import experiments

    for kind, title, command in (("train", "experiments", "train"),
                                 ("dynamics", "dynamics experiments", "dynamics")):
        rows = [(n, experiments.get(n, kind).description) for n in experiments.names(kind)]
        _print_section(f"{title} (quotient {command} NAME):", rows,
                       f"no {title} registered yet")
    groups = _optional_module("quotient.groups")
    if groups is not None and hasattr(groups, "GROUPS"):
        rows = [(n, _first_line(f)) for n, f in groups.GROUPS.items()]
        _print_section("groups (quotient.groups):", rows, "none")
    data = _optional_module("quotient.data")
    if data is not None and hasattr(data, "DATASETS"):
        rows = [(n, _first_line(f)) for n, f in data.DATASETS.items()]
        _print_section("data sets (quotient.data):", rows, "none")
    return 0


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_saved(out: Path, exp_name: str, kind: str) -> dict[str, Any]:
    from ..train import RunDir

    if not (out / "config.json").is_file():
        raise RunDirError(f"nothing to resume in {out}: no run found there (no config.json); "
                          "drop --resume to start a new run")
    saved = RunDir.open(out).read_config()
    if (saved.get("experiment"), saved.get("kind", "train")) != (exp_name, kind):
        raise RunDirError(
            f"{out} holds a run of {saved.get('kind', 'train')} experiment "
            f"{saved.get('experiment')!r}, not {exp_name!r}; choose another --out")
    if not isinstance(saved.get("config"), dict):
        raise RunDirError(f"{out}/config.json has no 'config' mapping; it was not written here")
    return saved


def _resolve_config(args: argparse.Namespace, exp: Any, kind: str) -> tuple[Any, dict | None]:
    from ..train import apply_overrides, config_from_dict, config_to_dict, load_config_file

    saved = _read_saved(Path(args.out), exp.name, kind) if args.resume else None
    config = (config_from_dict(exp.config_cls, saved["config"]) if saved
              else exp.config_cls())
    if args.config:
        data = load_config_file(args.config)
        named = data.pop("__experiment__", None)
        if named is not None and named != exp.name:
            raise ConfigError(f"config file {args.config} is for experiment {named!r}, "
                              f"not {exp.name!r}")
        try:
            config = config_from_dict(exp.config_cls, _merge(config_to_dict(config), data))
        except ConfigError as exc:
            raise ConfigError(f"config file {args.config}: {exc}") from None
    if args.overrides:
        config = apply_overrides(config, args.overrides)
    return config, saved


def _run(args: argparse.Namespace, kind: str) -> int:
    from .. import experiments

    exp = experiments.get(args.experiment, kind)
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other; pass one of them")
    if not args.out and not args.show_config:
        raise UsageError(
            f"the following argument is required: --out (see 'quotient {kind} --help')")
    config, saved = _resolve_config(args, exp, kind)
    config, tensorboard = _tensorboard_setting(config, args.tensorboard)

    from ..train import RunDir, config_to_dict

    resolved = config_to_dict(config)
    if args.show_config:
        print(json.dumps(resolved, indent=2))
        return 0
    if tensorboard:  # a missing package stops here, before a run directory is made
        from ..train import require_tensorboard

        require_tensorboard()
    if exp.check is not None:
        exp.check(config)
    with RunDir(args.out, resume=args.resume, overwrite=args.overwrite) as run_dir:
        code = _train_in(run_dir, args, exp, kind, config, saved, resolved)
        if tensorboard and run_dir.is_writer and code == 0:
            from ..train import export_run

            live = bool(getattr(getattr(config, "train", None), "tensorboard", False))
            metrics = run_dir.read_final_metrics() or {}
            folder = export_run(run_dir, metrics, records=not live)
            print(f"tensorboard: tensorboard --logdir {folder}")
        return code


def _tensorboard_setting(config: Any, flag: bool) -> tuple[Any, bool]:
    """The config with ``train.tensorboard`` on when ``--tensorboard`` asks for it (so the
    training loop logs as it goes and config.json records it), and whether to log at all.
    Experiments without a ``train`` config (dynamics) are exported when they end."""
    import dataclasses

    train = getattr(config, "train", None)
    has_switch = dataclasses.is_dataclass(train) and hasattr(train, "tensorboard")
    if flag and has_switch and not train.tensorboard:
        config = dataclasses.replace(config, train=dataclasses.replace(train, tensorboard=True))
    return config, flag or (has_switch and bool(config.train.tensorboard))


def _train_in(run_dir: Any, args: argparse.Namespace, exp: Any, kind: str, config: Any,
              saved: dict | None, resolved: dict[str, Any]) -> int:
    import torch

    from .. import __version__
    from ..report import build_report

    if saved is not None and saved["config"] != resolved:
        changed = sorted(k for k in set(saved["config"]) | set(resolved)
                         if saved["config"].get(k) != resolved.get(k))
        log.info("resuming with changed settings: %s", ", ".join(changed))
    run_dir.write_config({
        "experiment": exp.name, "kind": kind, "config": resolved,
        "world_size": int(os.environ.get("WORLD_SIZE", "1") or 1),
        "versions": {"quotient": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    })
    from ..experiments import ExperimentResult

    result = exp.run(config, run_dir, args.resume)
    if not isinstance(result, ExperimentResult):  # an experiment that returns its metrics only
        result = ExperimentResult(result, getattr(run_dir, "last_fit", None))
    metrics, fit_result = result.metrics, result.fit
    if not run_dir.is_writer:
        return 0
    if fit_result is not None and not fit_result.completed:
        print(f"{exp.name}: stopped at step {fit_result.step} ({fit_result.stop_reason}); "
              f"continue with: quotient {kind} {exp.name} "
              f"--out {args.out} --resume")
    else:
        run_dir.write_final_metrics(metrics)
    build_report(run_dir)
    shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in metrics.items())
    print(f"{exp.name}: {shown}")
    print(f"run directory: {run_dir.path} (report: {run_dir.file('report.html')})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``quotient train EXPERIMENT --out DIR ...``."""
    return _run(args, "train")


def cmd_dynamics(args: argparse.Namespace) -> int:
    """``quotient dynamics EXPERIMENT --out DIR ...``."""
    return _run(args, "dynamics")


def _open_run(path: str) -> tuple[Any, dict[str, Any], Any]:
    """The run directory, its saved config and its experiment; one-line errors when the run
    names an experiment this version lacks, and a warning when another version wrote it."""
    from .. import __version__, experiments
    from ..train import RunDir

    run_dir = RunDir.open(path)
    saved = run_dir.read_config()
    name, kind = saved.get("experiment"), saved.get("kind", "train")
    if not name:
        raise RunDirError(f"{path}/config.json names no experiment; it was not written here")
    written = (saved.get("versions") or {}).get("quotient")
    by = f"written by quotient {written}" if written else "written by an unknown version"
    if kind not in experiments.KINDS or name not in experiments.names(kind):
        raise RunDirError(
            f"{path}/config.json names {kind} experiment {name!r}, which quotient {__version__} "
            f"does not have ({by}); use the version that wrote it")
    if written and written != __version__:
        log.warning("%s was %s; this is quotient %s", path, by, __version__)
    return run_dir, saved, experiments.get(name, kind)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``quotient evaluate DIR``."""
    run_dir, _, exp = _open_run(args.dir)
    if exp.evaluate is None:
        raise ConfigError(f"experiment {exp.name!r} has no evaluate step")
    metrics = exp.evaluate(run_dir)
    run_dir.write_json("evaluation.json", metrics)
    json.dump(metrics, sys.stdout, indent=2)
    print()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``quotient report DIR``."""
    from ..report import build_report

    run_dir, _, _ = _open_run(args.dir)
    md_path, html_path = build_report(run_dir)
    print(f"wrote {md_path} and {html_path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``quotient compare DIR1 DIR2 ... [--out FILE.html]``."""
    from ..compare import compare_runs, markdown_table, write_comparison

    names, metrics = compare_runs(args.dirs)
    print(markdown_table(names, metrics))
    if args.out:
        log.info("comparison written to %s", write_comparison(args.dirs, args.out))
    return 0
