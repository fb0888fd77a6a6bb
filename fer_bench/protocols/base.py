"""What a protocol yields, and the guard every split passes before a model sees it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Protocol as _Protocol

import numpy as np

from ..data.dataset import FaceDataset
from ..errors import ProtocolError


@dataclass(frozen=True)
class Split:
    """One train / (validation) / test split of a protocol.

    ``train``, ``val`` and ``test`` index the protocol's dataset(s): for a cross-dataset protocol
    ``train`` (and ``val``) index the training dataset and ``test`` the test dataset.
    ``val`` is the only data model selection (early stopping, hyper-parameters) may look at.
    ``val_from_train`` says it was carved out of the training data (k-fold, cross-dataset), so
    an estimator may train on it once selection is done; a designated split (FER2013's
    PublicTest) stays out of training. ``test_duplicates`` counts the test images whose pixels
    also occur in train or validation: only a dataset's own fixed split may have any (see
    :func:`check_split`), and runs record the count.
    """

    fold: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    val_from_train: bool = False
    test_duplicates: int = 0


class Protocol(_Protocol):
    """An evaluation protocol: a name, the dataset(s) it runs on and its splits."""

    name: str

    def datasets(self) -> tuple[str, ...]:
        """Names of the datasets it needs: one, or (train, test) for cross-dataset."""

    def splits(self, data: FaceDataset | tuple[FaceDataset, FaceDataset], seed: int = 0
               ) -> Iterator[Split]:
        """The splits, deterministic for ``seed``; each already checked by :func:`check_split`."""


def tag_indices(protocol: str, data: FaceDataset, tags: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The indices of ``data``'s images carrying each of ``tags`` (a dataset's own splits);
    :class:`ProtocolError` when it has no split tags or none of one tag."""
    if data.splits is None:
        raise ProtocolError(f"{protocol}: dataset {data.name} has no split tags")
    idx = {}
    for tag in tags:
        idx[tag] = np.flatnonzero(data.splits == tag)
        if idx[tag].size == 0:
            raise ProtocolError(
                f"{protocol}: dataset {data.name} has no {tag!r} images "
                f"(found {sorted(data.split_counts)}); load the complete release")
    return idx


def check_split(split: Split, train_ds: FaceDataset, test_ds: FaceDataset | None = None, *,
                fixed: bool = False) -> Split:
    """Assert that ``split`` cannot leak: disjoint indices, no subject and no image on both sides.

    For a single-dataset protocol (``test_ds`` is None) the train, validation and test indices
    must be disjoint and, where subjects are known, no subject of the test set may appear in the
    train or validation set. For a cross-dataset one train and validation must be disjoint.
    Either way no test image may have the same decoded pixels as a train or validation image
    (a copy under another name is the same leak as a shared index).

    ``fixed`` marks a dataset's own published split (FER2013's Training / PublicTest /
    PrivateTest), whose copies are counted into ``test_duplicates`` instead of refused: the
    release itself holds them (314 of FER2013's 3,589 PrivateTest images also occur in Training
    or PublicTest), every published result includes them, and refusing would make the official
    protocol unrunnable while dropping them would make its numbers incomparable. A split the
    suite builds (k-fold, leave-one-subject-out, cross-dataset) has no such excuse: a copy on
    both sides is refused, since only the user can say which copy to delete.

    Returns ``split`` (with ``test_duplicates`` set). Raises :class:`ProtocolError` on a leak.
    """
    if len(split.test) == 0 or len(split.train) == 0:
        raise ProtocolError(f"fold {split.fold}: empty train or test set")
    if test_ds is not None:  # cross-dataset: test indices index another dataset, so only
        # train/val indices must be disjoint; the pixels are compared across both datasets
        if split.val is not None and np.intersect1d(split.train, split.val).size:
            raise ProtocolError(f"fold {split.fold}: validation images are also training images")
        return _check_content(split, train_ds, test_ds, fixed)
    parts = {"train": split.train, "test": split.test}
    if split.val is not None:
        parts["val"] = split.val
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if np.intersect1d(parts[a], parts[b]).size:
                raise ProtocolError(f"fold {split.fold}: {a} and {b} share images")
    if train_ds.subjects is not None:
        test_subjects = set(train_ds.subjects[split.test])
        for part in ("train", "val"):
            if part in parts:
                shared = test_subjects & set(train_ds.subjects[parts[part]])
                if shared:
                    raise ProtocolError(
                        f"fold {split.fold}: subjects {sorted(shared)[:5]} are in both {part} and test"
                    )
    return _check_content(split, train_ds, train_ds, fixed)


def _check_content(split: Split, train_ds: FaceDataset, test_ds: FaceDataset, fixed: bool
                   ) -> Split:
    """``split`` with ``test_duplicates`` counted; a :class:`ProtocolError` naming the first
    test image and its copy when there is any and the split is not ``fixed``."""
    seen = split.train if split.val is None else np.concatenate([split.train, split.val])
    seen_hashes = train_ds.content_hashes[seen]
    test_hashes = test_ds.content_hashes[split.test]
    copied = np.flatnonzero(np.isin(test_hashes, seen_hashes))
    if copied.size and not fixed:
        first = copied[0]
        twin = seen[np.flatnonzero(seen_hashes == test_hashes[first])[0]]
        part = "train" if twin in split.train else "validation"
        fix = (f"`python -m fer_bench datasets verify {test_ds.name}` lists them"
               if test_ds is train_ds
               else f"keep each image in only one of {train_ds.name}, {test_ds.name}")
        raise ProtocolError(
            f"fold {split.fold}: test image {test_ds.paths[split.test[first]]} has the same "
            f"pixels as {part} image {train_ds.paths[twin]} ({copied.size} test image(s) with a "
            f"copy on the other side, a leak; delete the copies: {fix})"
        )
    return replace(split, test_duplicates=int(copied.size)) if copied.size else split
