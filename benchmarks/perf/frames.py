"""Test frames for the face-stage and end-to-end benchmarks, built from images that ship with
scikit-image (no downloads): a 640x480 BGR scene with 0, 1 or 3 frontal faces.

The background is ``skimage.data.coffee()`` (no face for the Haar cascade); faces are the head of
``skimage.data.astronaut()`` (Eileen Collins, a frontal face the cascade finds) scaled and pasted
at fixed places, so every run times the same pixels.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

FRAME_SIZE = (640, 480)  # width, height: VGA, a webcam's usual resolution
#: The astronaut's head in ``astronaut()`` (x, y, w, h), grown around the cascade's box.
_HEAD = (150, 30, 150, 170)
#: Where each face goes in the frame: (x, y, scale of the head crop).
_LAYOUTS: dict[int, tuple[tuple[int, int, float], ...]] = {
    0: (),
    1: ((245, 130, 1.3),),
    3: ((40, 60, 1.1), (270, 200, 1.2), (480, 90, 0.9)),
}
FACE_COUNTS = tuple(_LAYOUTS)


@lru_cache(maxsize=1)
def _background() -> np.ndarray:
    from skimage import data

    scene = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    return cv2.resize(scene, FRAME_SIZE, interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1)
def _head() -> np.ndarray:
    from skimage import data

    x, y, w, h = _HEAD
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[y:y + h, x:x + w]


def make_frame(n_faces: int) -> np.ndarray:
    """A ``(480, 640, 3)`` uint8 BGR frame holding ``n_faces`` faces (one of :data:`FACE_COUNTS`).

    Raises ``ValueError`` for another count.
    """
    if n_faces not in _LAYOUTS:
        raise ValueError(f"n_faces must be one of {FACE_COUNTS}, got {n_faces}")
    frame = _background().copy()
    head = _head()
    for x, y, scale in _LAYOUTS[n_faces]:
        face = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = face.shape[:2]
        frame[y:y + h, x:x + w] = face
    return frame


#: The cascade's face box inside :data:`_HEAD` (x, y, side), at the head's own scale.
_FACE_IN_HEAD = (27, 37, 93)


def make_clip(face_px: int = 50, n_frames: int = 120) -> tuple[list[np.ndarray], np.ndarray]:
    """A webcam-like clip: ``n_frames`` 640x480 BGR frames in which the astronaut's head, scaled
    so that the cascade's face box is about ``face_px`` pixels, drifts over the background
    along a smooth loop. Returns the frames and the ``(n_frames, 4)`` face boxes
    ``x, y, w, h`` where the face is in each."""
    fx, fy, fside = _FACE_IN_HEAD
    scale = face_px / fside
    head = cv2.resize(_head(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = head.shape[:2]
    W, H = FRAME_SIZE
    frames, boxes = [], []
    for i in range(n_frames):
        t = 2 * np.pi * i / max(n_frames, 1)
        x = int(round((W - w) * (0.5 + 0.35 * np.sin(t))))
        y = int(round((H - h) * (0.5 + 0.35 * np.sin(2 * t))))
        frame = _background().copy()
        frame[y:y + h, x:x + w] = head
        frames.append(frame)
        boxes.append((x + fx * scale, y + fy * scale, face_px, face_px))
    return frames, np.rint(np.array(boxes)).astype(np.int64)
