"""Protocols that use a dataset's own split tags (FER2013's official split, the synthetic holdout)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..data.dataset import FaceDataset
from .base import Split, check_split, tag_indices

#: Registry declarations (read without importing this module: see fer_bench.registry).
PLUGINS = [
    {"kind": "protocol", "name": "fer2013-official", "target": "fer2013_official", "order": 10,
     "summary": "fit Training, select on PublicTest, report PrivateTest",
     "datasets": ["fer2013"], "fixed_split": True},
    {"kind": "protocol", "name": "synthetic-holdout", "target": "synthetic_holdout",
     "order": 50, "summary": "the synthetic default's train / val / test split",
     "datasets": ["synthetic"], "fixed_split": True},
]


@dataclass(frozen=True)
class TaggedSplit:
    """Train on the ``train`` tag, select on ``val``, report ``test`` — one fold.

    The validation tag is the only data model selection may look at; the test tag is scored once.
    """

    name: str
    dataset: str
    train_tag: str
    val_tag: str
    test_tag: str
    default_view: str = "7class"

    def datasets(self) -> tuple[str, ...]:
        return (self.dataset,)

    def splits(self, data: FaceDataset, seed: int = 0) -> Iterator[Split]:
        idx = tag_indices(self.name, data, (self.train_tag, self.val_tag, self.test_tag))
        # The official split is fixed: ``seed`` only seeds the models, not the split. Its copies
        # across tags are the release's own, so they are counted, not refused (see check_split).
        yield check_split(
            Split("official", idx[self.train_tag], idx[self.test_tag], idx[self.val_tag]), data,
            fixed=True,
        )


def fer2013_official() -> TaggedSplit:
    """Fit on Training, select on PublicTest, report PrivateTest (FER2013's own protocol)."""
    return TaggedSplit("fer2013-official", "fer2013", "Training", "PublicTest", "PrivateTest")


def synthetic_holdout() -> TaggedSplit:
    """The synthetic default's identity-disjoint train / val / test split."""
    return TaggedSplit("synthetic-holdout", "synthetic", "train", "val", "test")
