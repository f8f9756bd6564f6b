"""Exceptions of :mod:`quotient.dynamics`."""

from __future__ import annotations

from ..errors import QuotientError


class SubspaceError(QuotientError, ValueError):
    """Bad input to a subspace computation: mismatched sizes, a wrong mask shape, a non-finite
    matrix, a representation that is not orthogonal, ...; the message names the fix."""


class SelfCheckError(RuntimeError):
    """A solver's own output failed its check (constraint residual or orthonormality).

    This is a numerical failure, not a user error: loosen ``rtol`` or report the case.
    """
