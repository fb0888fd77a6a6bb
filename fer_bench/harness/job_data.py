"""A protocol's data as a job sees it: loaded once per process, face-cropped, view-filtered.

Jobs of the same protocol fold run one after another in a worker, so the decoded datasets and
their face crops are kept in small in-process caches (the on-disk caches of the data and face
stages make the first load in each worker cheap too).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..data import FaceDataset, load_dataset
from ..data.labels import LabelView, get_view

# Each entry can be large (FER2013 is ~80 MB of pixels); a protocol needs at most two.
_MAX_ENTRIES = 4
_DATASETS: OrderedDict = OrderedDict()
_FACES: OrderedDict = OrderedDict()


def _memo(cache: OrderedDict, key: Any, build: Callable[[], Any]) -> Any:
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = build()
    cache[key] = value
    while len(cache) > _MAX_ENTRIES:
        cache.popitem(last=False)
    return value


def clear_caches() -> None:
    """Forget every dataset and face crop held by this process."""
    _DATASETS.clear()
    _FACES.clear()


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def load(name: str, options: dict, data_root: str | None) -> FaceDataset:
    """Dataset ``name`` loaded with loader ``options`` (memoised in this process)."""
    return _memo(_DATASETS, _key(name, options, data_root),
                 lambda: load_dataset(name, data_root, **options))


def faces(name: str, options: dict, data_root: str | None, face: dict
          ) -> tuple[np.ndarray, float | None, np.ndarray, np.ndarray]:
    """``(crops, rate, attempted, detected)`` of dataset ``name``: its ``(N, 48, 48)`` uint8
    face crops, the detection rate, and per image whether detection ran on it and whether it
    found a face (memoised in this process).

    ``face`` holds the :class:`~fer_bench.face.stage.FaceStage` parameters.
    """
    from ..face.stage import FaceStage, apply_face_stage  # cv2 cascades load only when needed

    def build() -> tuple[np.ndarray, float | None, np.ndarray, np.ndarray]:
        stage = FaceStage(**face)
        crops, rate = apply_face_stage(load(name, options, data_root), stage)
        return np.asarray(crops), rate, stage.attempted_.copy(), stage.detected_.copy()

    return _memo(_FACES, _key(name, options, data_root, face), build)


@dataclass(frozen=True)
class ViewData:
    """A protocol's dataset(s) restricted to the classes of the run's label view.

    Attributes
    ----------
    datasets : tuple of FaceDataset
        One dataset, or (train, test) for a cross-dataset protocol, holding only the images
        whose class its view keeps; the protocol's split indices index these.
    keep : tuple of ndarray of bool
        For each dataset, which rows of the loaded dataset survive its view.
    views : tuple of LabelView
        Each dataset's view: the run's view narrowed to the classes the dataset has. For a
        cross-dataset protocol the training dataset keeps all of its own classes (a model is
        trained once on them and serves every test dataset) and the test dataset keeps the
        classes both share (the only ones the model can be scored on).
    dropped : list of str
        Classes of the requested view that cannot be scored (absent from a dataset).
    """

    datasets: tuple[FaceDataset, ...]
    keep: tuple[np.ndarray, ...]
    views: tuple[LabelView, ...]
    dropped: list[str]

    @property
    def view(self) -> LabelView:
        """The view the test images are scored in."""
        return self.views[-1]

    @property
    def protocol_input(self) -> FaceDataset | tuple[FaceDataset, FaceDataset]:
        """What ``protocol.splits`` takes: the dataset, or the (train, test) pair."""
        return self.datasets[0] if len(self.datasets) == 1 else self.datasets  # type: ignore[return-value]

    def labels(self, i: int = 0) -> np.ndarray:
        """View labels ``0..K-1`` of dataset ``i`` (in its own view)."""
        return self.views[i].apply(self.datasets[i].labels)


def own_view(view: LabelView, ds: FaceDataset) -> tuple[LabelView, list[str]]:
    """``view`` narrowed to the classes ``ds`` has, and the view's classes it lacks."""
    mapped = view.apply(ds.labels)
    present = {view.classes[v] for v in np.unique(mapped) if v >= 0}
    dropped = [c for c in view.classes if c not in present]
    return view.restrict(tuple(c for c in view.classes if c in present), view.name), dropped


def view_data(datasets: tuple[FaceDataset, ...], view_name: str) -> ViewData:
    """Narrow ``view_name`` to the classes the data has and drop the images it has no class for."""
    view = get_view(view_name)
    train_view, dropped = own_view(view, datasets[0])
    views: tuple[LabelView, ...] = (train_view,)
    if len(datasets) == 2:
        from ..protocols.cross import shared_view

        shared, dropped = shared_view(view, *datasets)
        views = (train_view, shared)
    keep = tuple(v.apply(ds.labels) >= 0 for v, ds in zip(views, datasets))
    subsets = tuple(ds.subset(k) for ds, k in zip(datasets, keep))
    return ViewData(subsets, keep, views, dropped)


def summary(ds: FaceDataset) -> dict:
    """What a report says about a dataset: size, classes, subjects, where it came from."""
    return {
        "n_images": len(ds), "classes": ds.class_counts, "splits": ds.split_counts,
        "n_subjects": ds.n_subjects, "source": ds.meta.get("root") or ds.meta.get("generator"),
    }
