"""A trained pipeline ready to use on photos: estimator, label space and face-crop settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..face.stage import PRECROPPED_SIDE, equalize, square_around


@dataclass
class FerModel:
    """What a model file holds, in memory.

    Attributes
    ----------
    estimator : object
        A fitted pipeline on ``(N, size, size)`` uint8 faces with ``predict_proba``.
    classes : tuple of str
        Class names; column ``k`` of :meth:`predict_proba` is ``classes[k]``.
    face : dict
        The face stage the training crops went through (``mode``, ``size``, ``margin``,
        ``equalize``), and, for pre-cropped training faces, the framing measured on them
        (``box_scale``, ``box_offset``); faces found in a photo are cropped the same way.
    family : str
        ``"classical"`` or ``"deep"`` (decides how the weights are stored).
    provenance : dict
        How it was made: pipeline and parameters, dataset, protocol, test accuracy, versions.
    path : Path or None
        The file it was loaded from.
    """

    estimator: Any
    classes: tuple[str, ...]
    face: dict
    family: str
    provenance: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def size(self) -> int:
        """Side of the square face crops the estimator takes."""
        return int(self.face.get("size", 48))

    def crop_faces(self, gray: np.ndarray, boxes: np.ndarray, whole: bool = False) -> np.ndarray:
        """Face crops of ``gray`` as the training faces were made.

        Parameters
        ----------
        gray : ndarray of shape (H, W), uint8
        boxes : ndarray of shape (F, 4)
            Face boxes ``x, y, w, h``.
        whole : bool
            The image itself is the face (a pre-cropped face): take its centred square, as the
            face stage does for pre-cropped datasets.

        Returns
        -------
        ndarray of shape (F, size, size), uint8
        """
        size = self.size
        boxes = np.asarray(boxes).reshape(-1, 4)
        out = np.empty((len(boxes), size, size), np.uint8)
        h, w = gray.shape
        margin = float(self.face.get("margin", 0.2))
        box_scale, box_offset = self.face.get("box_scale"), float(self.face.get("box_offset", 0))
        for i, box in enumerate(boxes):
            if whole:
                side = min(h, w)
                x0, y0 = (w - side) // 2, (h - side) // 2
            else:
                x0, y0, side = square_around(box, (h, w), margin, box_scale, box_offset)
            crop = gray[y0:y0 + side, x0:x0 + side]
            if crop.shape != (size, size):
                crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            out[i] = equalize(crop, self.face.get("equalize"))
        return out

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities ``(F, K)`` of every class for ``(F, size, size)`` uint8 faces.

        Columns follow :attr:`classes`; a class the estimator never saw in training gets 0.
        """
        faces = np.asarray(faces, dtype=np.uint8)
        k = len(self.classes)
        if len(faces) == 0:
            return np.zeros((0, k))
        from ..pipelines.base import label_columns

        proba = np.asarray(self.estimator.predict_proba(faces), dtype=np.float64)
        seen = getattr(self.estimator, "classes_", np.arange(proba.shape[1]))
        proba = label_columns(proba, seen, k)
        # Estimators compute in float32: renormalise so each row sums to 1 in float64.
        return proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)

    def describe(self) -> str:
        """One line: pipeline, training data and reported accuracy."""
        p = self.provenance
        what = p.get("pipeline", "model")
        data = p.get("dataset")
        text = f"{what} on {data}" if data else what
        acc = p.get("test_accuracy")
        if acc is not None:
            split = f"{p.get('protocol', 'test')} {p.get('test_split', 'test')}"
            text += f" ({split} accuracy {100 * acc:.1f} %)"
        return f"{text}; classes: {', '.join(self.classes)}"


def whole_image_is_face(shape: tuple[int, ...]) -> bool:
    """Whether an image with no detected face is small enough to be a face crop itself."""
    return max(shape[:2]) <= PRECROPPED_SIDE
