"""Testing tools that are public API: the equivariance checker and a runner for distributed
code.

* :func:`assert_equivariant`, :func:`assert_invariant`, :func:`equivariance_error` and
  :func:`check_module` (a module against its declared :class:`~quotient.symmetry.Symmetry`);
  see :mod:`quotient.testing.checker` for how errors are measured and which elements are tested.
* :func:`run_on_ranks` — run a function on several processes joined in a gloo process group.
"""

from .checker import (
    MAX_ENUMERATED,
    TOLERANCES,
    EquivarianceReport,
    assert_equivariant,
    assert_invariant,
    check_module,
    elements_to_test,
    equivariance_error,
    flatten_output,
)
from .ranks import run_on_ranks

__all__ = ["MAX_ENUMERATED", "TOLERANCES", "EquivarianceReport", "assert_equivariant",
           "assert_invariant", "check_module", "equivariance_error", "flatten_output",
           "run_on_ranks", "elements_to_test"]
