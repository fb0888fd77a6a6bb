"""Faces in a video, frame after frame: found on a reduced copy of the frame, then confirmed
and followed at full resolution (:class:`FrameDetector`)."""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import FerBenchError
from ..face.detect import detect_faces, largest_first
from .tracking import iou_matrix


class FrameDetector:
    """Faces in a video, frame after frame: found at reduced size, then followed at full size.

    A search runs the Haar cascade on a ``width``-px-wide copy of the frame with a lenient
    ``search_neighbors`` (it proposes faces down to the cascade's 24-px window, false ones
    too), and every proposal is confirmed, and its box refined, by the cascade at full
    resolution on an upscaled window around it (the face made :data:`REFINE_FACE` px, where the
    cascade is reliable). A face found in one frame is looked for in the next only in that
    window, which costs a fraction of a search; the search itself then runs every
    ``search_every`` frames (for faces that come into view) and whenever no face is followed.
    Measured on a 640x480 clip with one 50-px face (``benchmarks/test_face.py``,
    ``test_follow_face_in_clip``): the former one-pass detection at 320 px found it in none of
    120 frames, at 640 px in about half; this finds it in 119.

    Parameters
    ----------
    width : int
        Width the search runs at (frames narrower than this are searched as they are), unless
        ``min_face`` would fall under :data:`SEARCH_FACE` pixels there.
    min_face : int or None
        Smallest face side, in full-frame pixels; None: a tenth of the frame's shorter side,
        at least 48 px (48 on a 640x480 frame).
    scale_factor, min_neighbors : float, int
        Cascade settings of the confirming pass. Coarser than for still photos (1.2 / 4
        against 1.1 / 5).
    search_neighbors : int
        ``min_neighbors`` of the reduced-size search: low, since the confirming pass rejects
        what is not a face.
    search_every : int
        Frames between searches while faces are followed.
    """

    #: Side a face is scaled to in the confirming window, and the window's size around a box.
    REFINE_FACE = 80
    WINDOW = 2.5
    #: Side the smallest face (``min_face``) keeps in the reduced search.
    SEARCH_FACE = 32
    #: Boxes overlapping more than this (IoU) are the same face.
    SAME_FACE = 0.3

    def __init__(self, width: int = 320, min_face: int | None = None, scale_factor: float = 1.2,
                 min_neighbors: int = 4, search_neighbors: int = 1,
                 search_every: int = 10) -> None:
        if width < 48:
            raise FerBenchError(f"--detect-width {width}: use at least 48 pixels")
        self.width = width
        self.min_face = min_face
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.search_neighbors = search_neighbors
        self.search_every = max(1, int(search_every))
        self._small: np.ndarray | None = None
        self._known = np.zeros((0, 4), np.int64)
        self._since_search = 0

    def _search(self, gray: np.ndarray) -> np.ndarray:
        """Face proposals of the whole frame, from a reduced copy, in full-frame pixels."""
        h, w = gray.shape
        min_face = self.min_face or max(48, round(min(h, w) / 10))
        # Reduced, but never so far that the smallest face falls under SEARCH_FACE pixels: at
        # the cascade's 24-px window faces are found too rarely to be followed soon.
        scale = max(self.width / w, self.SEARCH_FACE / min_face)
        if scale >= 1:
            return detect_faces(gray, min_size=min_face, scale_factor=self.scale_factor,
                                min_neighbors=self.search_neighbors)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if self._small is None or self._small.shape != size[::-1]:
            self._small = np.empty(size[::-1], np.uint8)
        cv2.resize(gray, size, dst=self._small, interpolation=cv2.INTER_AREA)
        boxes = detect_faces(self._small, min_size=max(24, round(min_face * scale)),
                             scale_factor=self.scale_factor, min_neighbors=self.search_neighbors)
        return np.rint(boxes / scale).astype(np.int64)

    def _refine(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The face near ``box`` found by the cascade at full resolution in an upscaled window
        around it (``x, y, w, h`` in the frame), or None when there is none."""
        h, w = gray.shape
        x, y, bw, bh = (float(v) for v in box)
        side = max(bw, bh)
        half = self.WINDOW * side / 2
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        x1, y1 = int(min(cx + half, w)), int(min(cy + half, h))
        if x1 - x0 < 24 or y1 - y0 < 24:
            return None
        zoom = self.REFINE_FACE / side
        window = cv2.resize(gray[y0:y1, x0:x1], None, fx=zoom, fy=zoom,
                            interpolation=cv2.INTER_LINEAR if zoom > 1 else cv2.INTER_AREA)
        found = detect_faces(window, min_size=int(0.6 * self.REFINE_FACE),
                             scale_factor=self.scale_factor, min_neighbors=self.min_neighbors)
        if not len(found):
            return None
        centres = found[:, :2] + found[:, 2:] / 2
        best = found[np.argmin(np.hypot(*(centres - np.array(window.shape[::-1]) / 2).T))]
        return np.rint(best / zoom + np.array([x0, y0, 0, 0])).astype(np.int64)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes ``(F, 4)`` ``x, y, w, h`` of the ``(H, W)`` uint8 frame, largest first."""
        kept: list[np.ndarray] = []

        def followed(box: np.ndarray) -> bool:
            return bool(kept) and iou_matrix(np.array(kept), box[None]).max() > self.SAME_FACE

        for box in (self._refine(gray, k) for k in self._known):
            if box is not None and not followed(box):
                kept.append(box)  # two followed boxes that met on one face: keep one
        self._since_search += 1
        if not kept or self._since_search >= self.search_every:
            self._since_search = 0
            for proposal in self._search(gray):
                if followed(proposal):
                    continue  # a face already followed
                box = self._refine(gray, proposal)
                if box is not None and not followed(box):
                    kept.append(box)
        self._known = largest_first(np.array(kept, np.int64).reshape(-1, 4))
        return self._known.copy()
