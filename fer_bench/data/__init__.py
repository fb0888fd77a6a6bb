"""Data stage: loaders for every dataset format, the on-disk cache and verification."""
from __future__ import annotations

import os

from ..errors import DataError, DuplicateImages
from ..registry import DATASETS
from .dataset import FaceDataset, duplicate_groups
from .labels import CLASSES, VIEWS, LabelView, get_view
from .roots import available, data_root, locate, split_name

__all__ = [
    "CLASSES", "VIEWS", "FaceDataset", "LabelView", "available", "data_root", "get_view",
    "duplicate_problems", "load_dataset", "locate", "verify_dataset",
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


def verify_dataset(name: str, data_root: str | os.PathLike | None = None, **options
                   ) -> list[DataError]:
    """Every problem and finding in dataset ``name``, all of them rather than the first.

    File problems (unreadable, corrupt, wrong size, misplaced) come first, in file order, then
    one :class:`~fer_bench.errors.DuplicateImages` per group of files with identical pixels
    (:func:`duplicate_problems`) among the files that decoded. The groups are findings, not
    file problems: ``datasets verify`` lists them without failing (unless ``--strict``).
    """
    base, _ = split_name(name)
    loader = DATASETS.get(base).load()
    problems: list[DataError] = []
    try:
        ds = loader(locate(name, data_root), name=name, cache=False, errors=problems, **options)
    except DataError as exc:  # a problem that stops loading altogether (no files at all, ...)
        problems.append(exc)
        return problems
    return problems + duplicate_problems(ds)


#: What copies mean for the splits the suite builds (see :func:`fer_bench.protocols.check_split`).
_GUARD = ("the k-fold and cross-dataset splits the suite builds refuse copies on both of their "
          "sides: delete all but one copy to use those protocols")


def duplicate_problems(ds: FaceDataset) -> list[DuplicateImages]:
    """One :class:`~fer_bench.errors.DuplicateImages` per group of images with the same pixels.

    A finding rather than a file problem: what copies cost depends on the split. A split the
    suite builds (k-fold, leave-one-subject-out, cross-dataset) refuses a copy on both of its
    sides, so the user deletes copies to run those protocols. A dataset's own published split
    (FER2013's Training / PublicTest / PrivateTest) is kept as published: the official protocol
    counts the test images that have a copy into its records as ``n_test_duplicates`` (see
    :func:`fer_bench.protocols.check_split`).
    """
    out: list[DuplicateImages] = []
    for group in duplicate_groups(ds.content_hashes):
        paths = [str(p) for p in ds.paths[group]]
        # the first in full (the line starts with it), then short
        shown = [ds.relative_path(p) for p in paths[1:]]
        problem = f"same pixels as {', '.join(shown)}"
        labels = [CLASSES[c] for c in dict.fromkeys(ds.labels[group].tolist())]
        if len(labels) > 1:
            problem += f", labelled {' / '.join(labels)}"
        tags = [] if ds.splits is None else list(dict.fromkeys(ds.splits[group].tolist()))
        across = len(tags) > 1
        if across:
            problem += f", across splits {' / '.join(tags)}"
            fix = ("the official protocol keeps the published split and records how many test "
                   f"images have a copy (n_test_duplicates); {_GUARD}")
        elif ds.splits is not None:
            fix = f"the official protocol keeps the published split as it is; {_GUARD}"
        else:
            fix = _GUARD
        if len(labels) > 1:
            fix += ", keeping the one with the right label"
        out.append(DuplicateImages(paths, problem, fix, across_splits=across))
    return out
