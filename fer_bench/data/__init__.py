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


def verify_dataset(name: str, data_root: str | os.PathLike | None = None, **options) -> list[DataError]:
    """Every problem found in dataset ``name``, all of them rather than the first.

    File problems (unreadable, corrupt, wrong size, misplaced) come first, in file order, then
    one :class:`~fer_bench.errors.DuplicateImages` per group of files with identical pixels
    (:func:`duplicate_problems`) among the files that decoded.
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


def duplicate_problems(ds: FaceDataset) -> list[DuplicateImages]:
    """One :class:`~fer_bench.errors.DuplicateImages` per group of images with the same pixels.

    Copies in different splits of the dataset (a Training image again in PrivateTest) are a leak:
    a split the suite builds refuses them, a dataset's own fixed split counts them into its
    records (see :func:`fer_bench.protocols.check_split`). Copies within one split (or in a
    dataset without splits, which every k-fold split could leak) weigh one image twice, or
    contradict each other when their labels differ.
    """
    root = str(ds.meta.get("root") or "")
    out: list[DuplicateImages] = []
    for group in duplicate_groups(ds.content_hashes):
        paths = [str(p) for p in ds.paths[group]]
        shown = [os.path.relpath(p, root) if root and p.startswith(root + os.sep) else p
                 for p in paths[1:]]  # the first in full (the line starts with it), then short
        problem = f"same pixels as {', '.join(shown)}"
        labels = [CLASSES[c] for c in dict.fromkeys(ds.labels[group].tolist())]
        if len(labels) > 1:
            problem += f", labelled {' / '.join(labels)}"
        tags = [] if ds.splits is None else list(dict.fromkeys(ds.splits[group].tolist()))
        across = len(tags) > 1
        if across:
            problem += f", across splits {' / '.join(tags)}"
            fix = ("a leak: the official split counts such copies in its records, a split the "
                   "suite builds refuses them; delete all but one copy to remove it")
        elif len(labels) > 1:
            fix = "keep at most one copy, with its right label"
        else:
            fix = "keep one copy: copies weigh one image twice and leak across k-fold splits"
        out.append(DuplicateImages(paths, problem, fix, across_splits=across))
    return out
