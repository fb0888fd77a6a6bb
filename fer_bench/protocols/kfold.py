"""Subject-independent stratified k-fold and leave-one-subject-out protocols."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold

from ..data.dataset import FaceDataset
from ..errors import ProtocolError
from .base import Split, check_split

#: Registry declarations (read without importing this module: see fer_bench.registry).
PLUGINS = [
    {"kind": "protocol", "name": "ckplus-10fold", "target": "ckplus_10fold", "order": 20,
     "summary": "10 subject-independent stratified folds", "datasets": ["ckplus"]},
    {"kind": "protocol", "name": "jaffe-10fold", "target": "jaffe_10fold", "order": 30,
     "summary": "10 subject-independent stratified folds", "datasets": ["jaffe"]},
    {"kind": "protocol", "name": "jaffe-loso", "target": "jaffe_loso", "order": 40,
     "summary": "leave one subject out", "datasets": ["jaffe"]},
    {"kind": "protocol", "name": "kfold", "target": "generic_kfold", "order": 60,
     "summary": "10 stratified folds, subject-independent where subjects are known "
                "(any dataset)", "datasets": None},
]


def _inner_val(train: np.ndarray, y: np.ndarray, groups: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training indices into (fit, validation) about 9:1, by subject if known."""
    n_splits = 10
    if groups is not None:
        n_groups = len(np.unique(groups[train]))
        if n_groups < 2:
            return train, train[:0]
        splitter = StratifiedGroupKFold(min(n_splits, n_groups), shuffle=True, random_state=seed)
        fit, val = next(splitter.split(train, y[train], groups[train]))
    else:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        fit, val = next(splitter.split(train, y[train]))
    return train[fit], train[val]


@dataclass(frozen=True)
class GroupKFold:
    """``n_splits`` folds stratified by class, with no subject in both train and test.

    Each fold also carries an inner validation split carved (by subject) from its training part,
    so model selection never touches the test fold. ``dataset=None`` accepts any dataset; folds
    fall back to plain stratified folds when the dataset has no subject ids.
    """

    name: str
    dataset: str | None
    n_splits: int = 10
    default_view: str = "7class"

    def datasets(self) -> tuple[str, ...]:
        return (self.dataset,) if self.dataset else ()

    def splits(self, data: FaceDataset, seed: int = 0) -> Iterator[Split]:
        y, groups = data.labels, data.subjects
        index = np.arange(len(data))
        if groups is not None:
            n_groups = len(np.unique(groups))
            if n_groups < self.n_splits:
                raise ProtocolError(
                    f"{self.name}: {data.name} has {n_groups} subjects, fewer than "
                    f"{self.n_splits} folds; use a leave-one-subject-out protocol"
                )
            folds = StratifiedGroupKFold(self.n_splits, shuffle=True, random_state=seed).split(index, y, groups)
        else:
            folds = StratifiedKFold(self.n_splits, shuffle=True, random_state=seed).split(index, y)
        for k, (train, test) in enumerate(folds):
            fit, val = _inner_val(train, y, groups, seed)
            yield check_split(Split(f"fold{k}", fit, test, val if val.size else None, True), data)


@dataclass(frozen=True)
class LeaveOneSubjectOut:
    """One fold per subject: train on all others, test on that subject's images."""

    name: str
    dataset: str | None
    default_view: str = "7class"

    def datasets(self) -> tuple[str, ...]:
        return (self.dataset,) if self.dataset else ()

    def splits(self, data: FaceDataset, seed: int = 0) -> Iterator[Split]:
        if data.subjects is None:
            raise ProtocolError(f"{self.name}: {data.name} has no subject ids")
        y, groups = data.labels, data.subjects
        for train, test in LeaveOneGroupOut().split(np.arange(len(data)), y, groups):
            fit, val = _inner_val(train, y, groups, seed)
            yield check_split(Split(str(groups[test[0]]), fit, test, val if val.size else None, True), data)


def ckplus_10fold() -> GroupKFold:
    return GroupKFold("ckplus-10fold", "ckplus", default_view="ckplus8")


def jaffe_10fold() -> GroupKFold:
    return GroupKFold("jaffe-10fold", "jaffe")


def jaffe_loso() -> LeaveOneSubjectOut:
    return LeaveOneSubjectOut("jaffe-loso", "jaffe")


def generic_kfold() -> GroupKFold:
    return GroupKFold("kfold", None, default_view="ckplus8")
