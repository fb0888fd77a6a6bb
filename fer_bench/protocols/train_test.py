"""The protocol of a release that ships only a train and a test split (RAF-DB, ExpW, AffectNet's
public part): model selection gets a validation split carved out of the training images.

The carve is about 9:1, stratified by class and, where the dataset knows its subjects, by
subject, so no validation subject is a training subject (selection then estimates accuracy on
new faces, as the test split asks); it is seeded, the test split is the release's own. A new
dataset with such a layout names its protocol in one declaration of its own module::

    PLUGINS = [{"kind": "protocol", "name": "rafdb-official", "target": "rafdb_official",
                "summary": "fit train (validation carved out of it), report test",
                "datasets": ["rafdb"], "fixed_split": True}]

    def rafdb_official() -> TrainTestSplit:
        return TrainTestSplit("rafdb-official", "rafdb", "train", "test")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..data.dataset import FaceDataset
from ..errors import ProtocolError
from .base import Split, check_split, tag_indices
from .kfold import _inner_val


@dataclass(frozen=True)
class TrainTestSplit:
    """Train on the ``train_tag`` images less a carved validation split, report ``test_tag``.

    One fold, ``"official"``. ``seed`` seeds the carve (so a seed changes what is selected on,
    never what is reported). The validation images come from training (``val_from_train``), so
    an estimator may refit on them once its selection is made.
    """

    name: str
    dataset: str
    train_tag: str = "train"
    test_tag: str = "test"
    default_view: str = "7class"

    def datasets(self) -> tuple[str, ...]:
        return (self.dataset,)

    def splits(self, data: FaceDataset, seed: int = 0) -> Iterator[Split]:
        idx = tag_indices(self.name, data, (self.train_tag, self.test_tag))
        try:
            fit, val = _inner_val(idx[self.train_tag], data.labels, data.subjects, seed)
        except ValueError as exc:  # scikit-learn's splitter: too few images of every class
            raise ProtocolError(f"{self.name}: {data.name}'s training images are too few to "
                                f"carve a stratified validation split ({exc})") from None
        if val.size == 0:
            raise ProtocolError(
                f"{self.name}: {data.name}'s training images hold a single subject, so no "
                "subject-independent validation split can be carved; use a k-fold protocol")
        # The release's own split: copies across it are counted, as for FER2013 (check_split).
        yield check_split(Split("official", fit, idx[self.test_tag], val, True), data,
                          fixed=True)
