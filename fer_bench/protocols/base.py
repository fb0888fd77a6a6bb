"""What a protocol yields, and the guard every split passes before a model sees it."""
from __future__ import annotations

from dataclasses import dataclass
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
    PublicTest) stays out of training.
    """

    fold: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    val_from_train: bool = False


class Protocol(_Protocol):
    """An evaluation protocol: a name, the dataset(s) it runs on and its splits."""

    name: str

    def datasets(self) -> tuple[str, ...]:
        """Names of the datasets it needs: one, or (train, test) for cross-dataset."""

    def splits(self, data: FaceDataset | tuple[FaceDataset, FaceDataset], seed: int = 0
               ) -> Iterator[Split]:
        """The splits, deterministic for ``seed``; each already checked by :func:`check_split`."""


def check_split(split: Split, train_ds: FaceDataset, test_ds: FaceDataset | None = None) -> Split:
    """Assert that ``split`` cannot leak: disjoint index sets, and no subject on both sides.

    For a single-dataset protocol (``test_ds`` is None) the train, validation and test indices
    must be disjoint and, where subjects are known, no subject of the test set may appear in the
    train or validation set. Raises :class:`ProtocolError` otherwise.
    """
    if len(split.test) == 0 or len(split.train) == 0:
        raise ProtocolError(f"fold {split.fold}: empty train or test set")
    if test_ds is not None:  # cross-dataset: different datasets, only train/val must be disjoint
        if split.val is not None and np.intersect1d(split.train, split.val).size:
            raise ProtocolError(f"fold {split.fold}: validation images are also training images")
        return split
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
    return split
