"""Faces followed across video frames by box overlap (IoU), each with its class probabilities
smoothed by an exponential moving average, so a face keeps its id and its label does not
flicker from frame to frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FerBenchError


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (N, 4) with every box of ``b`` (M, 4).

    Boxes are ``x, y, w, h``. Returns an ``(N, M)`` float array.
    """
    a = np.asarray(a, float).reshape(-1, 1, 4)
    b = np.asarray(b, float).reshape(1, -1, 4)
    ix = np.clip(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
                 - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
                 - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Track:
    """One face followed across frames."""

    face_id: int
    box: np.ndarray
    probabilities: np.ndarray
    missed: int = 0


class FaceTracker:
    """Follows faces by box overlap and smooths each face's class probabilities.

    Parameters
    ----------
    smoothing : float in [0, 1)
        Weight of the past in the exponential moving average: the shown probabilities are
        ``smoothing * previous + (1 - smoothing) * current``; 0 shows each frame's own.
    min_iou : float
        A detection continues a track when their boxes overlap at least this much.
    max_missed : int
        Frames a face may go undetected before its track (and its id) is dropped.
    """

    def __init__(self, smoothing: float = 0.6, min_iou: float = 0.3, max_missed: int = 10) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise FerBenchError(f"smoothing {smoothing}: give a number in [0, 1)")
        self.smoothing = smoothing
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, probabilities: np.ndarray) -> list[Track]:
        """Match this frame's detections ``(F, 4)`` and probabilities ``(F, K)`` to the tracks.

        Returns the tracks of this frame's faces, in the order of ``boxes``.
        """
        boxes = np.asarray(boxes).reshape(-1, 4)
        iou = iou_matrix([t.box for t in self.tracks], boxes) if self.tracks and len(boxes) \
            else np.zeros((len(self.tracks), len(boxes)))
        owner = [-1] * len(boxes)
        taken = set()
        for flat in np.argsort(-iou, axis=None, kind="stable"):  # greedy, best overlap first
            t, f = divmod(int(flat), len(boxes))
            if iou[t, f] < self.min_iou:
                break
            if t in taken or owner[f] >= 0:
                continue
            owner[f] = t
            taken.add(t)
        out = []
        for f, box in enumerate(boxes):
            p = np.asarray(probabilities[f], float)
            if owner[f] >= 0:
                track = self.tracks[owner[f]]
                track.probabilities = self.smoothing * track.probabilities + (1 - self.smoothing) * p
                track.box, track.missed = box.copy(), 0
            else:
                track = Track(self._next_id, box.copy(), p.copy())
                self._next_id += 1
                self.tracks.append(track)
            out.append(track)
        seen = {id(t) for t in out}
        for track in self.tracks:
            if id(track) not in seen:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return out

    def shown(self, hold: int) -> list[Track]:
        """Tracks to draw: this frame's faces plus those missed for at most ``hold`` frames
        (the detector drops a face now and then; its box should not blink)."""
        return [t for t in self.tracks if t.missed <= hold]
