"""Face detection with OpenCV's bundled frontal-face Haar cascade, and image normalisation."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike

from ..data.io import check_image
from ..errors import DataError

CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Images are shrunk to at most this many pixels on their longest side before detection: the
#: cascade's cost grows with the area and faces in benchmark images are large.
MAX_DETECT_SIDE = 640


@lru_cache(maxsize=1)
def load_cascade() -> cv2.CascadeClassifier:
    """The frontal-face cascade shipped with opencv-python (loaded once per process)."""
    data = getattr(cv2, "data", None)
    folder = getattr(data, "haarcascades", None)
    if folder is None:
        raise DataError(
            "cv2.data", "this OpenCV build ships no Haar cascades",
            "install the PyPI wheel: pip install opencv-python-headless",
        )
    path = Path(folder) / CASCADE_FILE
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise DataError(path, "Haar cascade missing or unreadable",
                        "reinstall opencv-python-headless")
    return cascade


def to_gray(image: ArrayLike) -> np.ndarray:
    """Any image array as a 2-D uint8 array.

    Accepts what :func:`~fer_bench.data.io.check_image` accepts: an ``(H, W)``, ``(H, W, 1)``,
    ``(H, W, 3)`` (BGR, OpenCV's order) or ``(H, W, 4)`` (BGRA) array of uint8, other integer,
    bool or float dtype. Floats with a maximum <= 1 are read as [0, 1], others clipped to
    [0, 255] (NaN becomes 0); integers above 255 are read as 16-bit, others clipped to [0, 255];
    bool maps to 0 / 255. An empty image gives an empty ``(H, W)`` array.

    Raises
    ------
    ImageError
        For any other shape or a non-numeric dtype (a ``ValueError`` too).
    """
    a = check_image(image)
    if a.size == 0:  # OpenCV's colour conversion refuses empty input
        return np.zeros(a.shape[:2], np.uint8)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        top = 65535 if a.max() > 255 else 255  # 16-bit images are rescaled
        # clip before widening: uint64 values past int64's range would wrap negative
        a = (np.clip(a, 0, top).astype(np.int64) * 255 // top).astype(np.uint8)
    if a.ndim == 3:
        if a.shape[2] == 1:
            a = a[:, :, 0]
        else:
            code = cv2.COLOR_BGR2GRAY if a.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
            a = cv2.cvtColor(np.ascontiguousarray(a), code)
    return np.ascontiguousarray(a)


def detect_faces(gray, min_size: int = 24, scale_factor: float = 1.1,
                 min_neighbors: int = 5) -> np.ndarray:
    """Frontal faces in an image, largest first.

    Parameters
    ----------
    gray : array-like of shape (H, W) or (H, W, C)
        The image (colour is converted with :func:`to_gray`).
    min_size : int
        Smallest face side in pixels of ``gray``.
    scale_factor, min_neighbors : see ``cv2.CascadeClassifier.detectMultiScale``.

    Returns
    -------
    ndarray of shape (F, 4) of int
        Boxes ``x, y, w, h`` in ``gray``'s pixels, sorted by area (largest first), then by
        position; ``F == 0`` when there is no face.
    """
    g = to_gray(gray)
    h, w = g.shape
    if min(h, w) < 24:  # smaller than the cascade's window: nothing can be found
        return np.zeros((0, 4), np.int64)
    scale = min(1.0, MAX_DETECT_SIDE / max(h, w))
    if scale < 1.0:
        g = cv2.resize(g, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    g = cv2.equalizeHist(g)  # the cascade was trained on equalised faces
    side = max(24, int(round(min_size * scale)))
    found = load_cascade().detectMultiScale(
        g, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(side, side)
    )
    boxes = np.asarray(found, dtype=np.float64).reshape(-1, 4)
    if scale < 1.0:
        boxes = boxes / scale
    boxes = np.rint(boxes).astype(np.int64)
    boxes[:, 0] = np.clip(boxes[:, 0], 0, w - 1)  # scaling back may overshoot by a pixel
    boxes[:, 1] = np.clip(boxes[:, 1], 0, h - 1)
    boxes[:, 2] = np.minimum(boxes[:, 2], w - boxes[:, 0])
    boxes[:, 3] = np.minimum(boxes[:, 3], h - boxes[:, 1])
    return largest_first(boxes)


def largest_first(boxes: np.ndarray) -> np.ndarray:
    """``(F, 4)`` boxes ``x, y, w, h`` sorted by area (largest first), then by position."""
    return boxes[np.lexsort((boxes[:, 0], boxes[:, 1], -boxes[:, 2] * boxes[:, 3]))]
