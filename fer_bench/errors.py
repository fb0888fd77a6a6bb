"""Errors the user can act on. Each prints as one line naming the file and the fix."""
from __future__ import annotations


class FerBenchError(Exception):
    """Base class: the CLI prints ``error: <message>`` and exits 2 instead of a traceback."""


class DataError(FerBenchError):
    """A dataset file or folder is missing, unreadable or malformed.

    ``path`` names the offending file, ``fix`` says what to do about it.
    """

    def __init__(self, path: object, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        message = f"{self.path}: {problem}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


class DatasetNotFound(DataError):
    """A dataset is not where the user said it is."""


class ProtocolError(FerBenchError):
    """A protocol cannot be applied to a dataset, or a split leaks test data."""


class LabelSpaceError(FerBenchError):
    """A model fitted on one label space was asked about another."""


class UsageError(FerBenchError, ValueError):
    """An option value the command cannot use (still a ValueError for library callers)."""
