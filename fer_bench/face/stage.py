"""The face stage every pipeline shares: find the face, crop a square around it, resize.

Conventions: ``detected_`` is True where the Haar cascade found a face; ``detection_rate_`` is the
fraction of the images *that went through detection* where one was found, and ``None`` when no
image did (``mode="skip"``, or ``"auto"`` on crops of at most 64 px such as FER2013 and CK+48).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import cv2
import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..atomic import replacing
from ..data.cache import cache_dir, discard_entry
from ..data.dataset import FaceDataset
from ..errors import DataError
from .detect import detect_faces, to_gray

MODES = ("auto", "detect", "skip")
EQUALIZERS = (None, "hist", "clahe")
#: What scoring does with an image in which detection found no face: ``crop`` scores its centred
#: crop like any other image (the default); ``wrong`` counts it as an error, as a deployed
#: predictor that answers nothing for such an image would be judged.
NO_FACE = ("crop", "wrong")
#: Parameters that decide how images are scored, not what the stage outputs: they stay out of
#: the face cache's key, and out of a job's configuration at their default.
SCORING_PARAMS = {"no_face": "crop"}
#: Framing parameters (see :mod:`fer_bench.face.framing`) at their "not set" value: left out
#: of the face cache's key and of a job's configuration then, so that configurations written
#: before they existed keep their hashes.
FRAMING_DEFAULTS = {"box_scale": None, "box_offset": 0.0}
#: In ``auto`` mode images at most this big on their longest side count as already cropped.
PRECROPPED_SIDE = 64
#: Bump when the stage's output changes, so cached faces are recomputed.
FACES_VERSION = 1


def equalize(face: np.ndarray, method: str | None) -> np.ndarray:
    """Histogram equalisation of a uint8 face: ``None``, ``"hist"`` (global) or ``"clahe"``
    (contrast-limited adaptive, 4 x 4 tiles, clip limit 2)."""
    if method is None:
        return face
    if method == "hist":
        return cv2.equalizeHist(face)
    if method == "clahe":
        return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(face)
    raise ValueError(f"unknown equalize {method!r}; choose one of {EQUALIZERS}")


def square_around(box: Sequence[int], shape: tuple[int, int], margin: float,
                  box_scale: float | None = None, box_offset: float = 0.0
                  ) -> tuple[int, int, int]:
    """``(x0, y0, side)`` of the crop square for a face ``box`` (``x, y, w, h``), shrunk to fit
    and shifted inside an image of ``shape``.

    Without ``box_scale`` the square is centred on the box and grown by ``margin`` of its size
    on each side. With it (a measured framing, :mod:`fer_bench.face.framing`) the square's side
    is the box side divided by ``box_scale`` and its centre sits ``box_offset`` sides above the
    box centre, as in the crops the framing was measured on.
    """
    x, y, w, h = (float(v) for v in box)
    H, W = shape
    cx, cy = x + w / 2, y + h / 2
    if box_scale is None:
        side = int(round(min(max(w, h) * (1 + 2 * margin), H, W)))
    else:
        side = int(round(min(max(w, h) / box_scale, H, W)))
        cy -= box_offset * side
    side = max(side, 1)
    x0 = int(round(np.clip(cx - side / 2, 0, W - side)))
    y0 = int(round(np.clip(cy - side / 2, 0, H - side)))
    return x0, y0, side


def as_image_list(images) -> list:
    """A batch as a list of images: an ``(N, H, W)`` or ``(N, H, W, C)`` array, an object array
    or a list of 2-D / 3-D arrays of any sizes."""
    if isinstance(images, np.ndarray) and images.dtype != object and images.ndim not in (3, 4):
        raise ValueError(
            f"expected a batch (N, H, W) or (N, H, W, C) of images, got shape {images.shape}; "
            "wrap a single image as [image]"
        )
    return list(images)


class FaceStage(TransformerMixin, BaseEstimator):
    """Images of any size or channel count -> ``(N, size, size)`` uint8 face crops.

    Parameters
    ----------
    mode : {"auto", "detect", "skip"}
        ``detect``: the largest Haar-cascade face, grown by ``margin``, squared, clipped to the
        image; the centred largest square of the image when no face is found. ``skip``: the
        centred square only (for pre-cropped sets). ``auto``: ``skip`` for images at most
        64 px on their longest side, ``detect`` for larger ones (decided per image).
    size : int
        Side of the output crops.
    margin : float
        Fraction of the face box added on each side (when ``box_scale`` is None).
    box_scale, box_offset : float or None, float
        A measured framing (:mod:`fer_bench.face.framing`): a detected face is cut as the
        square of side ``box / box_scale`` centred ``box_offset`` sides above the box centre,
        so faces in photos are framed like the pre-cropped faces a model was trained on. None
        (the default): the ``margin`` rule.
    equalize : {None, "hist", "clahe"}
        Histogram equalisation of each output crop.
    no_face : {"crop", "wrong"}
        How the harness scores a test image where detection ran and found no face: ``crop``
        scores its centred crop like the others; ``wrong`` counts it as an error (see
        :func:`fer_bench.harness.execute.count_no_face_wrong`). The crops are the same either way.

    Attributes
    ----------
    detected_ : ndarray of shape (N,) of bool
        Where the last :meth:`transform` found a face.
    attempted_ : ndarray of shape (N,) of bool
        Where it ran detection at all.
    boxes_ : ndarray of shape (N, 4) of int
        The face box used (``x, y, w, h`` in the input image), ``-1`` where none.
    detection_rate_ : float or None
        ``detected_[attempted_].mean()``; None when no image went through detection.
    """

    def __init__(self, mode: str = "auto", size: int = 48, margin: float = 0.2,
                 equalize: str | None = None, no_face: str = "crop",
                 box_scale: float | None = None, box_offset: float = 0.0) -> None:
        self.mode = mode
        self.size = size
        self.margin = margin
        self.equalize = equalize
        self.no_face = no_face
        self.box_scale = box_scale
        self.box_offset = box_offset

    def _check_params(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown face-stage mode {self.mode!r}; choose one of {MODES}")
        if self.equalize not in EQUALIZERS:
            raise ValueError(f"unknown equalize {self.equalize!r}; choose one of {EQUALIZERS}")
        if self.no_face not in NO_FACE:
            raise ValueError(f"unknown no_face {self.no_face!r}; choose one of {NO_FACE}")
        if int(self.size) < 1 or self.margin < 0:
            raise ValueError(
                f"face size must be >= 1 and margin >= 0, got {self.size}, {self.margin}"
            )
        from .framing import OFFSET_RANGE, SCALE_RANGE

        if self.box_scale is not None and not (
                isinstance(self.box_scale, (int, float))
                and SCALE_RANGE[0] <= self.box_scale <= SCALE_RANGE[1]):
            raise ValueError(f"box_scale must be None or a number in {SCALE_RANGE[0]}.."
                             f"{SCALE_RANGE[1]}, got {self.box_scale!r}")
        if self.box_scale is None and self.box_offset != 0:
            raise ValueError("box_offset needs box_scale (a framing is both); without one "
                             "the crop is the box grown by margin")
        if not (isinstance(self.box_offset, (int, float))
                and OFFSET_RANGE[0] <= self.box_offset <= OFFSET_RANGE[1]):
            raise ValueError(f"box_offset must be a number in {OFFSET_RANGE[0]}.."
                             f"{OFFSET_RANGE[1]}, got {self.box_offset!r}")

    def fit(self, X=None, y=None):
        self._check_params()
        return self

    def wants_detection(self, shape: tuple[int, ...]) -> bool:
        """Whether an image of ``shape`` goes through the detector under this ``mode``."""
        if self.mode == "auto":
            return max(shape[:2]) > PRECROPPED_SIDE
        return self.mode == "detect"

    def transform(self, images) -> np.ndarray:
        """Face crops of shape ``(N, size, size)`` uint8 (see the class docstring)."""
        self._check_params()
        items = as_image_list(images)
        n, size = len(items), int(self.size)
        out = np.empty((n, size, size), np.uint8)
        self.detected_ = np.zeros(n, bool)
        self.attempted_ = np.zeros(n, bool)
        self.boxes_ = np.full((n, 4), -1, np.int64)
        for i, image in enumerate(items):
            gray = to_gray(image)
            h, w = gray.shape
            if h == 0 or w == 0:
                raise DataError(f"image #{i}", f"is empty (shape {gray.shape})",
                                "drop it from the dataset")
            box = None
            if self.wants_detection(gray.shape):
                self.attempted_[i] = True
                faces = detect_faces(gray, min_size=max(24, min(h, w) // 8))
                if len(faces):
                    box = faces[0]
                    self.detected_[i], self.boxes_[i] = True, box
            if box is None:
                side = min(h, w)
                x0, y0 = (w - side) // 2, (h - side) // 2
            else:
                x0, y0, side = square_around(box, (h, w), self.margin, self.box_scale,
                                             self.box_offset)
            crop = gray[y0:y0 + side, x0:x0 + side]
            if crop.shape != (size, size):
                crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            out[i] = equalize(crop, self.equalize)
        tried = int(self.attempted_.sum())
        self.detection_rate_ = float(self.detected_.sum() / tried) if tried else None
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


def output_params(stage: FaceStage) -> dict:
    """The stage's parameters that decide its crops (all but :data:`SCORING_PARAMS`, and the
    framing parameters only when set)."""
    return {k: v for k, v in stage.get_params().items() if k not in SCORING_PARAMS
            and not (k in FRAMING_DEFAULTS and v == FRAMING_DEFAULTS[k])}


def _stage_key(dataset: FaceDataset, stage: FaceStage) -> str:
    payload = json.dumps({
        "v": FACES_VERSION, "name": dataset.name, "meta": dataset.meta,
        "params": output_params(stage), "paths": joblib.hash(np.asarray(dataset.paths).astype(str)),
        "images": joblib.hash(dataset.images),
    }, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _load_faces(path: Path, stage: FaceStage, n: int) -> np.ndarray:
    """The cached crops at ``path``, setting ``stage``'s attributes; raises on a damaged entry."""
    with np.load(path, allow_pickle=False) as z:
        faces, detected = z["faces"], z["detected"].astype(bool)
        attempted, boxes = z["attempted"].astype(bool), z["boxes"]
    size = int(stage.size)
    # A readable file with the wrong arrays is damaged too: check before the stage trusts it.
    if (faces.shape != (n, size, size) or faces.dtype != np.uint8 or detected.shape != (n,)
            or attempted.shape != (n,) or boxes.shape != (n, 4)):
        raise ValueError(f"holds faces {faces.shape} {faces.dtype}, "
                         f"expected ({n}, {size}, {size}) uint8")
    stage.detected_, stage.attempted_, stage.boxes_ = detected, attempted, boxes
    tried = int(attempted.sum())
    stage.detection_rate_ = float(detected.sum() / tried) if tried else None
    return faces


def apply_face_stage(dataset: FaceDataset, stage: FaceStage) -> tuple[np.ndarray, float | None]:
    """``stage.transform(dataset.images)`` and its detection rate, cached on disk.

    Results are stored under ``cache_dir() / "faces"`` keyed by the dataset's name, meta, paths,
    image content and the stage's parameters, so detection on JAFFE or the original CK+ runs
    once. ``stage``'s ``detected_`` / ``attempted_`` / ``detection_rate_`` are set either way.
    Datasets that need no detection (pre-cropped) are computed directly, which is as fast as
    reading a cache entry.
    """
    stage._check_params()
    items = as_image_list(dataset.images)
    if not any(stage.wants_detection(np.shape(im)) for im in items):
        return stage.transform(items), stage.detection_rate_
    path = cache_dir() / "faces" / f"{_stage_key(dataset, stage)}.npz"
    if path.exists():
        try:
            return _load_faces(path, stage, len(items)), stage.detection_rate_
        except Exception as exc:  # any unreadable entry is recomputed, never fatal
            discard_entry(path, exc)
    faces = stage.transform(items)
    try:
        with replacing(path, suffix=".npz") as tmp:  # a killed run never leaves half an entry
            np.savez_compressed(tmp, faces=faces, detected=stage.detected_,
                                attempted=stage.attempted_, boxes=stage.boxes_)
    except OSError:
        pass  # a read-only cache only costs time
    return faces, stage.detection_rate_
