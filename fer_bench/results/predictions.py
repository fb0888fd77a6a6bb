"""Per-image predictions of a run, kept beside its record: ``<out>/predictions/<hash>.npz``.

The analyses that compare pipelines on the same test images (McNemar, paired bootstrap),
calibrate their probabilities or look at the second guess read these files, so they never refit
a model. One compressed ``.npz`` per config hash, written atomically before the record that
names it (``record["predictions"]``: the file relative to ``<out>`` and its SHA-256), so a
record never points at a half-written file; a job run again replaces its file with its record.

A file holds plain arrays only and is read with ``allow_pickle=False``:

===============  ================  =====================================================
``y_true``       (N,) int16        test labels, indices into the record's ``classes``
``y_pred``       (N,) int16        the scored predictions (what the confusion matrix counts)
``scores``       (N, C) float32    class scores (``-inf`` for classes the model never saw)
``ids``          (N,) str          test images by path relative to their dataset's root
``y_val``        (M,) int16        validation labels (only when the model was selected there)
``scores_val``   (M, C') float32   validation scores, in the training classes
===============  ================  =====================================================

``scores_kind`` says whether ``scores`` are probabilities (``proba``) or decision values.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import replacing
from ..errors import FerBenchError
from ..modelfile import file_digest

PREDICTIONS_DIR = "predictions"
_REQUIRED = ("y_true", "y_pred", "ids")


@dataclass(frozen=True)
class Predictions:
    """One run's stored per-image predictions (see the module docstring for the shapes)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    ids: np.ndarray
    scores: np.ndarray | None = None
    scores_kind: str | None = None
    y_val: np.ndarray | None = None
    scores_val: np.ndarray | None = None

    @property
    def correct(self) -> np.ndarray:
        """``(N,)`` bool: which test images the run got right."""
        return self.y_pred == self.y_true


def save_predictions(out: str | os.PathLike, config_hash: str, arrays: dict[str, Any]) -> dict:
    """Write ``arrays`` (the keys of the module table, ``scores_kind`` a string) for the run
    ``config_hash`` under ``out``; return the entry its record keeps as ``predictions``.
    Raises ``OSError`` when the file cannot be written."""
    path = Path(out) / PREDICTIONS_DIR / f"{config_hash}.npz"
    plain: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if value is None:
            continue
        value = np.asarray(value)
        if key.startswith("y_"):
            value = value.astype(np.int16)
        elif key.startswith("scores") and key != "scores_kind":
            value = value.astype(np.float32)  # float16 would skew a fitted temperature
        elif key == "ids":
            value = value.astype(str)
        plain[key] = value
    with replacing(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **plain)
    return {"file": f"{PREDICTIONS_DIR}/{path.name}", "sha256": file_digest(path)}


def load_predictions(out: str | os.PathLike, record: dict) -> Predictions:
    """The predictions ``record`` (of the results folder ``out``) names.

    Raises :class:`~fer_bench.errors.FerBenchError`, naming the file and the fix, when the
    record has none, or the file is missing, altered (its SHA-256 differs), not an ``.npz`` of
    plain arrays or inconsistent with the record.
    """
    entry = record.get("predictions")
    where = f"{record.get('pipeline')} on {record.get('protocol_label', record.get('protocol'))}"
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise FerBenchError(f"{where} (record {str(record.get('config_hash'))[:12]}): no stored "
                            "predictions; run it again with `run --rescore`")
    path = predictions_path(out, record)
    fix = "delete it and run the job again with `run --rescore`"
    if path is None:
        raise FerBenchError(f"{out}: the record of {where} names predictions outside "
                            f"{PREDICTIONS_DIR}/ ({entry['file']!r}); run it again with "
                            "`run --rescore`")
    if not path.is_file():
        raise FerBenchError(f"{path}: predictions of {where} are missing; run the job again "
                            "with `run --rescore`")
    if entry.get("sha256") and file_digest(path) != entry["sha256"]:
        raise FerBenchError(f"{path}: not the predictions its record stored (SHA-256 differs); "
                            f"{fix}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise FerBenchError(f"{path}: not a predictions file ({exc}); {fix}") from None
    problem = _shape_problem(data, record)
    if problem:
        raise FerBenchError(f"{path}: damaged predictions ({problem}); {fix}")
    kind = data.pop("scores_kind", None)
    return Predictions(
        y_true=data["y_true"].astype(np.int64), y_pred=data["y_pred"].astype(np.int64),
        ids=data["ids"], scores=_float(data.get("scores")),
        scores_kind=None if kind is None else str(kind),
        y_val=None if data.get("y_val") is None else data["y_val"].astype(np.int64),
        scores_val=_float(data.get("scores_val")))


def predictions_path(out: str | os.PathLike, record: dict) -> Path | None:
    """The file ``record`` names, when it lies in ``out``'s predictions folder; else None."""
    entry = record.get("predictions")
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or Path(name).parent != Path(PREDICTIONS_DIR):
        return None
    return Path(out) / name


def _shape_problem(data: dict[str, np.ndarray], record: dict) -> str | None:
    """What makes the arrays of a predictions file unusable for ``record``, or None."""
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        return f"no {', '.join(missing)}"
    n = data["y_true"].shape[0] if data["y_true"].ndim == 1 else -1
    if n < 0 or any(data[k].shape != (n,) for k in ("y_pred", "ids")):
        return "y_true, y_pred and ids are not one value per test image"
    if record.get("n_test") is not None and n != record["n_test"]:
        return f"{n} predictions for a record of {record['n_test']} test images"
    for scores, labels in (("scores", "y_true"), ("scores_val", "y_val")):
        if (scores in data) != (labels in data) and scores == "scores_val":
            return "y_val and scores_val come together"
        if scores in data:
            s, y = data[scores], data[labels]
            if s.ndim != 2 or s.shape[0] != y.shape[0] or y.ndim != 1:
                return f"{scores} is not one row of class scores per {labels} label"
            if len(y) and (y.min() < 0 or y.max() >= s.shape[1]):
                return f"{labels} holds labels outside the {s.shape[1]} classes of {scores}"
    return None


def _float(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.astype(np.float64)
