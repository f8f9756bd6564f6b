"""quotient: learning with symmetry in PyTorch.

Two parts on one group layer:

* invariant autoencoders — an invariant code ``z = η(x)`` and a pose ``g = ψ(x)`` with
  ``x ≈ ρ(g)·δ(z)`` (:mod:`quotient.models`);
* equivariance versus augmentation — equivariant subspaces, compatibility, NOM/AUG/EQUI
  training, drift and stability (:mod:`quotient.dynamics`).

Subpackages are imported on first use so that ``import quotient`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any


def _installed_version() -> str:
    """The version from the installed distribution's metadata: ``pyproject.toml`` is the one
    place it is written, so a wheel, an editable install and ``quotient --version`` agree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("quotient")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0.0.0+unknown"


__version__: str = _installed_version()

_SUBMODULES = {
    "groups", "actions", "testing", "data", "nn", "models", "metrics", "train", "dynamics",
    "experiments", "cli", "errors", "report", "runs", "symmetry",
}


def load(path: Any, *, device: str = "cpu") -> Any:  # noqa: ANN401 - a LoadedRun
    """The trained model and settings of a run directory, read-only (see
    :func:`quotient.runs.load`)."""
    from .runs import load as _load

    return _load(path, device=device)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'quotient' has no attribute {name!r}")


__all__ = ["__version__", "load", *sorted(_SUBMODULES)]
