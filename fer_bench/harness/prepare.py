"""A job's data, ready to fit and score: loaded, label-viewed, face-cropped and split.

:func:`prepare` serves every harness job (and ``train``); :func:`prepare_evaluation` serves a
saved model scored on a whole dataset (``evaluate``), whose training data need not be here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .jobs import Job


@dataclass
class JobData:
    """One job's data after loading, label view, face stage and split (the test part kept apart).

    ``X_*`` are ``(N, 48, 48)`` uint8 faces. ``y_train`` / ``y_val`` index ``train_classes``
    (the training dataset's own classes under the view) and ``y_test`` indexes ``classes`` (the
    classes the test images are scored on: the same for a within-dataset protocol, those both
    datasets share for a cross-dataset one). ``train`` indexes the training dataset's faces
    (already subsampled for ``limit_train``). An evaluation has no training part (``train``
    empty, ``X_train`` None).
    """

    protocol: Any
    split: Any
    classes: list[str]
    train_classes: list[str]
    dropped: list[str]
    #: Classes of the view the training dataset lacks (what its model cannot predict).
    train_dropped: list[str]
    train: np.ndarray
    X_train: np.ndarray | None
    y_train: np.ndarray | None
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    detection_rates: list[float | None]
    loaded: tuple
    dataset_options: dict
    #: Per test image: whether the face stage ran detection on it, and whether it found a face.
    test_attempted: np.ndarray
    test_detected: np.ndarray
    #: Per test image: its path in the test dataset, and its row in the loaded test dataset.
    test_paths: np.ndarray
    test_rows: np.ndarray

    @property
    def test_no_face(self) -> np.ndarray:
        """Test images where detection ran and found no face (all False without detection)."""
        return self.test_attempted & ~self.test_detected

    @property
    def n_test_duplicates(self) -> int:
        """Test images with a copy in train or validation (a fixed split's own, counted)."""
        return int(getattr(self.split, "test_duplicates", 0))


def stratified_subsample(index: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` of ``index`` keeping class proportions of ``y`` (labels of ``index``), seeded.

    Each class gets its proportional share (largest remainders round up, and every class keeps
    at least one image when ``n`` allows). Returns sorted indices; all of them when ``n`` is not
    smaller than ``len(index)``.
    """
    index, y = np.asarray(index), np.asarray(y)
    if n >= len(index):
        return index
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = counts / counts.sum() * n
    take = np.floor(share).astype(int)
    if n >= len(classes):
        take = np.maximum(take, 1)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    i = 0
    while take.sum() < n:  # hand out the remaining slots by largest remainder
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > n:  # the at-least-one rule overshot: trim the largest classes
        take[np.argmax(take)] -= 1
    chosen = [rng.choice(index[y == c], size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def prepare(job: Job, data_root: str | None) -> JobData:
    """Load, view, crop and split ``job``'s data; shared by the harness and ``train``."""
    from ..data.labels import get_view
    from ..protocols import get_protocol
    from . import job_data as jobdata

    protocol = get_protocol(job.protocol)
    options = job.config()["dataset_options"]
    loaded = tuple(jobdata.load(d, options[d], data_root) for d in job.datasets)
    prepared = jobdata.view_data(loaded, job.view)
    crops = [jobdata.faces(d, options[d], data_root, job.face) for d in job.datasets]
    X_all = [c[0][keep] for c, keep in zip(crops, prepared.keep)]
    y_all = [prepared.labels(i) for i in range(len(job.datasets))]
    split = next((s for s in protocol.splits(prepared.protocol_input, job.seed)
                  if s.fold == job.fold), None)
    if split is None:
        raise LookupError(f"{job.protocol} has no fold {job.fold!r} for seed {job.seed}")
    X_tr, y_tr = X_all[0], y_all[0]
    train = split.train
    if job.limit_train is not None:
        train = stratified_subsample(train, y_tr[train], job.limit_train, job.seed)
    has_val = split.val is not None and len(split.val) > 0
    _, _, attempted, detected = crops[-1]
    test_rows = np.flatnonzero(prepared.keep[-1])[split.test]  # rows of the loaded test dataset
    return JobData(
        protocol=protocol, split=split, classes=list(prepared.view.classes),
        train_classes=list(prepared.views[0].classes), dropped=list(prepared.dropped),
        train_dropped=[c for c in get_view(job.view).classes
                       if c not in prepared.views[0].classes],
        train=train, X_train=X_tr[train], y_train=y_tr[train],
        X_val=X_tr[split.val] if has_val else None, y_val=y_tr[split.val] if has_val else None,
        X_test=X_all[-1][split.test], y_test=y_all[-1][split.test],
        detection_rates=[c[1] for c in crops], loaded=loaded, dataset_options=options,
        test_attempted=attempted[test_rows], test_detected=detected[test_rows],
        test_paths=np.asarray(loaded[-1].paths)[test_rows], test_rows=test_rows,
    )


def prepare_evaluation(job: Job, model_classes: Sequence[str], data_root: str | None
                       ) -> JobData:
    """Every image of ``job``'s (only) dataset whose class, under ``job.view``, is one of
    ``model_classes``: the test part of a saved model's evaluation (``evaluate``), cropped by
    the job's face stage (the model's own)."""
    from ..data.labels import get_view
    from ..errors import ProtocolError
    from ..protocols import Split
    from . import job_data as jobdata

    (name,) = job.datasets
    options = job.config()["dataset_options"]
    ds = jobdata.load(name, options[name], data_root)
    view, _ = jobdata.own_view(get_view(job.view), ds)
    keep_classes = tuple(c for c in view.classes if c in model_classes)
    if len(keep_classes) < 2:
        raise ProtocolError(
            f"{name} under view {job.view} shares fewer than two classes with the model "
            f"({', '.join(model_classes)}); choose another --view or dataset")
    scored = view.restrict(keep_classes, f"{job.view}:model->{name}")
    dropped = [c for c in model_classes if c not in keep_classes]
    dropped += [c for c in view.classes if c not in keep_classes and c not in dropped]
    keep = scored.apply(ds.labels) >= 0
    crops, rate, attempted, detected = jobdata.faces(name, options[name], data_root, job.face)
    rows = np.flatnonzero(keep)
    empty = np.zeros(0, np.int64)
    return JobData(
        protocol=None, split=Split("all", empty, np.arange(len(rows))),
        classes=list(keep_classes), train_classes=list(model_classes), dropped=dropped,
        train_dropped=[],
        train=empty, X_train=None, y_train=None, X_val=None, y_val=None,
        X_test=np.asarray(crops)[rows], y_test=scored.apply(ds.labels)[rows],
        detection_rates=[rate], loaded=(ds,), dataset_options=options,
        test_attempted=attempted[rows], test_detected=detected[rows],
        test_paths=np.asarray(ds.paths)[rows], test_rows=rows,
    )


def reframe_test(d: JobData, job: Job, face: dict, data_root: str | None) -> JobData:
    """``d`` with its test faces cut by the face stage ``face`` (a model's own, with the
    framing measured on its training crops) instead of the job's, when detection ran on any
    test image; ``d`` itself otherwise (pre-cropped test faces are never re-cut)."""
    from dataclasses import replace

    from . import job_data as jobdata

    if not d.test_attempted.any():
        return d
    name = job.datasets[-1]
    crops, rate, attempted, detected = jobdata.faces(name, d.dataset_options[name], data_root,
                                                     face)
    rows = d.test_rows
    return replace(d, X_test=np.asarray(crops)[rows],
                   detection_rates=[*d.detection_rates[:-1], rate],
                   test_attempted=attempted[rows], test_detected=detected[rows])
