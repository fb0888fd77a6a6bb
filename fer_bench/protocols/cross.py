"""Cross-dataset protocol: fit on all of one dataset, test on all of another."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..data.dataset import FaceDataset
from ..data.labels import LabelView
from ..errors import ProtocolError
from .base import Split, check_split
from .kfold import _inner_val

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "protocol", "name": "cross", "target": "cross_dataset", "order": 70,
            "summary": "fit on all of one dataset, test on all of another: name it "
                       "cross:TRAIN->TEST", "datasets": None, "by_pair": True}]


def is_cross(protocol: str) -> bool:
    """Whether ``protocol`` names a cross-dataset protocol (``cross:TRAIN->TEST``)."""
    return protocol.startswith("cross:")


def cross_pair(protocol: str) -> tuple[str, str]:
    """``"cross:TRAIN->TEST"`` -> ``(TRAIN, TEST)``."""
    train, _, test = protocol[len("cross:"):].partition("->")
    return train, test


def shared_view(view: LabelView, train: FaceDataset, test: FaceDataset) -> tuple[LabelView, list[str]]:
    """``view`` narrowed to the view classes present in both datasets, and the classes dropped."""
    def present(ds: FaceDataset) -> set[str]:
        mapped = view.apply(ds.labels)
        return {view.classes[v] for v in np.unique(mapped) if v >= 0}

    a, b = present(train), present(test)
    keep = tuple(c for c in view.classes if c in a & b)
    if len(keep) < 2:
        raise ProtocolError(
            f"{train.name} and {test.name} share fewer than two classes under view {view.name}"
        )
    dropped = [c for c in view.classes if c in a | b and c not in keep]
    return view.restrict(keep, f"{view.name}:{train.name}->{test.name}"), dropped


@dataclass(frozen=True)
class CrossDataset:
    """Train on every image of ``train_dataset`` (a seeded 10 % held out for model selection),
    test on every image of ``test_dataset``."""

    train_dataset: str
    test_dataset: str
    default_view: str = "7class"

    @property
    def name(self) -> str:
        return f"cross:{self.train_dataset}->{self.test_dataset}"

    def datasets(self) -> tuple[str, ...]:
        return (self.train_dataset, self.test_dataset)

    def splits(self, data: tuple[FaceDataset, FaceDataset], seed: int = 0) -> Iterator[Split]:
        train_ds, test_ds = data
        train = np.arange(len(train_ds))
        fit, val = _inner_val(train, train_ds.labels, train_ds.subjects, seed)
        yield check_split(
            Split("all", fit, np.arange(len(test_ds)), val if val.size else None, True), train_ds, test_ds
        )


def cross_dataset(train_dataset: str, test_dataset: str) -> CrossDataset:
    if train_dataset == test_dataset:
        raise ProtocolError(f"cross:{train_dataset}->{test_dataset} trains and tests on the same dataset")
    return CrossDataset(train_dataset, test_dataset)
