"""Named, configured experiments and their registry.

An experiment is a short recipe (data + model + :func:`quotient.train.fit` + metrics + plots)
described by an :class:`Experiment`. Registered experiments are imported lazily: this package
imports no experiment module (and no torch) until :func:`get` asks for one.

>>> from quotient.experiments import names
>>> "digits-c4" in names()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from . import _registry

if TYPE_CHECKING:
    from ..train import RunDir

__all__ = ["KINDS", "Experiment", "ExperimentResult", "get", "names", "register",
           "register_lazy"]

Kind = Literal["train", "dynamics"]
KINDS: tuple[str, ...] = ("train", "dynamics")
"""The kinds of experiment: ``train`` (``quotient train NAME``) and ``dynamics`` (``quotient
dynamics NAME``)."""
_LABEL = {"train": "experiment", "dynamics": "dynamics experiment"}


@dataclass
class ExperimentResult:
    """What an experiment's ``run`` returns.

    Attributes:
        metrics: the final figures (written to ``metrics.json``).
        fit: the :class:`~quotient.train.FitResult` of its training (``completed`` false when a
            time limit interrupted it, so the caller can say how to resume), if it trained.
    """

    metrics: dict[str, Any]
    fit: Any = None


@dataclass(frozen=True)
class Experiment:
    """A named experiment.

    Attributes:
        name: the command-line name (``quotient train NAME``).
        description: one line for ``quotient list``.
        config_cls: a dataclass type whose instances configure a run; by convention it nests a
            :class:`~quotient.train.TrainConfig` as the field ``train`` (``--set train.epochs=2``).
        run: ``run(config, run_dir, resume) -> ExperimentResult`` (or just the metrics dict);
            trains (resuming from the run directory when ``resume``), writes plots into
            ``run_dir.plots_dir`` and returns the final metrics and the fit result (the caller
            writes ``config.json``, ``metrics.json`` and the report).
        evaluate: optional ``evaluate(run_dir) -> {metric: float}``; recomputes the metrics
            from the saved ``config.json`` and the latest checkpoint.
        kind: ``"train"`` or ``"dynamics"`` (which command runs it).
        check: optional ``check(config)``, run before the run directory is created; raises a
            :class:`~quotient.errors.QuotientError` for input that cannot work (e.g. a bad data
            file), so a failed start leaves no half-made run behind.
        recipe: the :class:`~quotient.experiments.recipe.GIAERecipe` of an autoencoder
            experiment (what :func:`quotient.load` rebuilds a trained model from).
    """

    name: str
    description: str
    config_cls: type
    run: Callable[[Any, RunDir, bool], ExperimentResult | dict[str, Any]]
    evaluate: Callable[[RunDir], dict[str, float]] | None = None
    kind: Kind = "train"
    check: Callable[[Any], None] | None = None
    recipe: Any = None


_LAZY: dict[str, dict[str, str]] = {
    "train": dict(_registry.EXPERIMENTS),
    "dynamics": dict(_registry.DYNAMICS),
}
_LOADED: dict[str, dict[str, Experiment]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def register(experiment: Experiment) -> Experiment:
    """Register an experiment object directly (e.g. from user code); returns it."""
    _check_kind(experiment.kind)
    _LOADED[experiment.kind][experiment.name] = experiment
    return experiment


def register_lazy(name: str, module: str, kind: Kind = "train") -> None:
    """Register ``name`` as defined by ``module.EXPERIMENT``, imported on first use."""
    _check_kind(kind)
    _LAZY[kind][name] = module


def names(kind: Kind = "train") -> list[str]:
    """Sorted names of the registered experiments of ``kind``."""
    _check_kind(kind)
    return sorted(set(_LAZY[kind]) | set(_LOADED[kind]))


def get(name: str, kind: Kind = "train") -> Experiment:
    """The experiment called ``name``, importing its module if needed.

    Raises:
        ConfigError: no such experiment; the message lists the registered ones.
    """
    _check_kind(kind)
    if name in _LOADED[kind]:
        return _LOADED[kind][name]
    if name not in _LAZY[kind]:
        known = names(kind)
        listing = (f"known {_LABEL[kind]}s: {', '.join(known)}" if known
                   else f"no {_LABEL[kind]}s registered yet")
        raise ConfigError(f"unknown {_LABEL[kind]} {name!r}; {listing}")
    module = importlib.import_module(_LAZY[kind][name])
    experiment = getattr(module, "EXPERIMENT", None)
    if not isinstance(experiment, Experiment):
        raise TypeError(f"module {module.__name__} must define EXPERIMENT = Experiment(...)")
    if experiment.name != name or experiment.kind != kind:
        raise TypeError(
            f"module {module.__name__} defines {experiment.kind} experiment "
            f"{experiment.name!r}, but the registry lists it as {kind} experiment {name!r}")
    _LOADED[kind][name] = experiment
    return experiment
