"""RAF-DB's basic-emotion release as a new dataset with its protocol, in one file.

Layout under the data root: ``rafdb/train/<class>/*.jpg`` and ``rafdb/test/<class>/*.jpg``
(class folders named as FER2013's, or with the usual synonyms). The release has no validation
split and no subject ids, so its protocol carves a validation split out of ``train``.
"""
from __future__ import annotations

from pathlib import Path

from fer_bench.data import folder
from fer_bench.data.dataset import FaceDataset
from fer_bench.protocols.train_test import TrainTestSplit

PLUGINS = [
    {"kind": "dataset", "name": "rafdb", "target": "load", "subdirs": ["rafdb"],
     "summary": "RAF-DB basic emotions (train/ and test/ class folders)"},
    {"kind": "protocol", "name": "rafdb-official", "target": "official",
     "summary": "fit train (validation carved out of it), report test",
     "datasets": ["rafdb"], "fixed_split": True},
]


def load(path: Path, *, name: str = "rafdb", cache: bool = True, errors=None) -> FaceDataset:
    """The ``train/`` and ``test/`` class trees under ``path``, tagged by their folder."""
    parts = {tag: folder.load(path / tag, name=name, cache=cache, errors=errors)
             for tag in ("train", "test")}
    return FaceDataset.from_parts(name, parts, root=str(path), format="rafdb")


def official() -> TrainTestSplit:
    return TrainTestSplit("rafdb-official", "rafdb", "train", "test")
