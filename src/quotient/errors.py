"""Exceptions for problems a user can cause and fix.

Every error raised because of bad input (a wrong setting, a missing or corrupt file, a run
directory in the wrong state) derives from :class:`QuotientError`. The command line prints such
errors as one line, ``quotient: error: ...``, and exits with status 2; any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "MissingDataError",
    "MissingDependencyError",
    "ConfigError",
    "DataError",
    "QuotientError",
    "RunDirError",
    "StorageError",
    "TrainingError",
    "UnsafeFileError",
]


class QuotientError(Exception):
    """Base class for errors caused by input the user can fix; the message names the fix."""


class ConfigError(QuotientError, ValueError):
    """A setting is unknown, has the wrong type or an invalid value, or a config file is bad."""


class DataError(QuotientError, ValueError):
    """A data set is missing, unreadable, or has the wrong shape, dtype or values."""


class CheckpointError(QuotientError):
    """A checkpoint file is unreadable (corrupt or truncated) or does not fit the run."""


class UnsafeFileError(CheckpointError, DataError):
    """A file from elsewhere holds pickled Python objects (which could run code when loaded);
    it is refused and nothing in it is executed."""


class RunDirError(QuotientError):
    """A run directory is in the wrong state for the request (exists, missing, not a run)."""


class StorageError(QuotientError, OSError):
    """A file could not be written (the disk is full, the folder is read-only or not ours);
    what was saved before is intact. Also an :class:`OSError`."""


class TrainingError(QuotientError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""


class MissingDataError(DataError, FileNotFoundError):
    """A data file or folder is absent; the message names where it was looked for and how to
    get it. Also a :class:`FileNotFoundError`, so generic handlers keep working."""


class MissingDependencyError(QuotientError, ImportError):
    """An optional package is not installed; the message names the install command."""
