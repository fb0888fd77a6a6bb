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


class ModelFileError(DataError):
    """A model file or checkpoint is missing, damaged, tampered with, of another format, or
    holds something that could run code (see :mod:`fer_bench.modelfile`)."""


class DatasetNotFound(DataError):
    """A dataset is not where the user said it is."""


class DuplicateImages(DataError):
    """Files of one dataset whose decoded pixels are identical (``datasets verify`` lists them).

    ``paths`` names every copy (``path`` is the first); ``across_splits`` is True when the copies
    sit in different splits of the dataset, which makes them a leak and not only a waste.
    """

    def __init__(self, paths: list[str], problem: str, fix: str = "",
                 across_splits: bool = False) -> None:
        super().__init__(paths[0], problem, fix)
        self.paths = [str(p) for p in paths]
        self.across_splits = across_splits


class ProtocolError(FerBenchError):
    """A protocol cannot be applied to a dataset, or a split leaks test data."""


class ImageError(FerBenchError, ValueError):
    """An in-memory array is not an image (shape, size or dtype); still a ValueError for callers."""


class LabelSpaceError(FerBenchError):
    """A model fitted on one label space was asked about another."""


class UsageError(FerBenchError, ValueError):
    """An option value the command cannot use (still a ValueError for library callers)."""
