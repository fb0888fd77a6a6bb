"""Data stage: loaders for every dataset format, the on-disk cache and verification."""
from __future__ import annotations

import os

from ..errors import DataError
from ..registry import DATASETS
from .dataset import FaceDataset
from .labels import CLASSES, VIEWS, LabelView, get_view
from .roots import available, data_root, locate, split_name

__all__ = [
    "CLASSES", "VIEWS", "FaceDataset", "LabelView", "available", "data_root", "get_view",
    "load_dataset", "locate", "verify_dataset",
]


def load_dataset(
    name: str, data_root: str | os.PathLike | None = None, *, cache: bool = True, **options
) -> FaceDataset:
    """Load registered dataset ``name`` (or ``folder:PATH``) from the data root.

    ``options`` go to the loader (e.g. ``n_frames=3`` for the original CK+, ``n_per_class`` for
    the synthetic default). Raises :class:`~fer_bench.errors.DataError` on bad input.
    """
    base, _ = split_name(name)
    loader = DATASETS.get(base).load()
    return loader(locate(name, data_root), name=name, cache=cache, **options)


def verify_dataset(name: str, data_root: str | os.PathLike | None = None, **options) -> list[DataError]:
    """Every problem found in dataset ``name``, all of them rather than the first."""
    base, _ = split_name(name)
    loader = DATASETS.get(base).load()
    problems: list[DataError] = []
    try:
        loader(locate(name, data_root), name=name, cache=False, errors=problems, **options)
    except DataError as exc:  # a problem that stops loading altogether (no files at all, ...)
        problems.append(exc)
    return problems
