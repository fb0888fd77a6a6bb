"""The real-time loop: detect, classify, track and smooth, draw, show or write, log a timeline.

Per frame: grayscale, faces found on a downscaled copy (``detect_width`` px wide) and confirmed and
followed at full resolution (:class:`FrameDetector`), crops of every face classified in one batched ``predict_proba`` call, faces followed
across frames by box overlap (IoU) with their probabilities smoothed by an exponential moving
average, then the box, label and top-3 bars drawn with the frame rate. The frame buffers are
reused from frame to frame.
"""
from __future__ import annotations

import csv
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import FerBenchError
from ..face.detect import detect_faces, largest_first
from ..models import FerModel
from .draw import draw_face, draw_fps

#: Frame rate assumed for a camera or a video file that does not report one.
DEFAULT_FPS = 30.0


# --- tracking ------------------------------------------------------------------------------------

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


# --- detection -----------------------------------------------------------------------------------

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


# --- input and output ------------------------------------------------------------------------------

def gui_available() -> bool:
    """Whether ``cv2.imshow`` can open a window: a GUI build of OpenCV and a display."""
    match = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.M)
    if match is None or match.group(1).upper() == "NONE":
        return False  # opencv-python-headless
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_source(camera: int | None = None, video: str | os.PathLike | None = None
                ) -> tuple[cv2.VideoCapture, float, bool]:
    """The capture, its frame rate and whether it is live (a camera), or a one-line error."""
    if video is not None:
        path = Path(video)
        if not path.is_file():
            raise FerBenchError(f"{path}: video file not found (check the path)")
        cap = _quietly(lambda: cv2.VideoCapture(str(path)))
        if not cap.isOpened():
            raise FerBenchError(f"{path}: not a video OpenCV can read (try an .mp4 or .avi file)")
        live = False
    else:
        index = 0 if camera is None else camera
        cap = _quietly(lambda: cv2.VideoCapture(index))  # our error replaces OpenCV's warnings
        if not cap.isOpened():
            raise FerBenchError(f"camera {index} could not be opened (no webcam, or it is busy); "
                                "pass --camera N for another one or --video FILE")
        live = True
    fps = cap.get(cv2.CAP_PROP_FPS)
    return cap, (float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS), live


def _quietly(make: Callable[[], cv2.VideoCapture]) -> cv2.VideoCapture:
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        return make()
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        return make()
    finally:
        logging.setLogLevel(level)


def open_writer(path: str | os.PathLike, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An mp4v ``VideoWriter`` for frames of ``size`` ``(W, H)``, or a one-line error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise FerBenchError(f"{path}: cannot write a video here (use an .mp4 name in a "
                            "writable folder)")
    return writer


class Timeline:
    """Per-face emotion timeline CSV: frame, time_s, face_id, x, y, w, h, label, p_<class>..."""

    def __init__(self, path: str | os.PathLike, classes: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.classes = classes
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "time_s", "face_id", "x", "y", "w", "h", "label",
                            *(f"p_{c}" for c in classes)])

    def write(self, frame: int, time_s: float, track: Track) -> None:
        p = track.probabilities
        self._csv.writerow([frame, f"{time_s:.3f}", track.face_id, *map(int, track.box),
                            self.classes[int(np.argmax(p))], *(f"{v:.4f}" for v in p)])

    def close(self) -> None:
        self._fh.close()


# --- the loop --------------------------------------------------------------------------------------

@dataclass
class DemoStats:
    """What a run did and how fast: frames, wall time and mean milliseconds per stage."""

    frames: int = 0
    seconds: float = 0.0
    face_frames: int = 0
    faces_seen: int = 0
    stage_ms: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        stages = ", ".join(f"{k} {v:.1f} ms" for k, v in self.stage_ms.items())
        return (f"{self.frames} frames in {self.seconds:.2f} s: {self.fps:.1f} FPS; "
                f"{self.faces_seen} face(s) tracked, a face in {self.face_frames} frames; "
                f"per frame: {stages}")


def run_demo(
    model: FerModel,
    capture: cv2.VideoCapture,
    *,
    source_fps: float = DEFAULT_FPS,
    live: bool = False,
    writer_path: str | os.PathLike | None = None,
    timeline_path: str | os.PathLike | None = None,
    show: bool = False,
    max_frames: int | None = None,
    detector: FrameDetector | None = None,
    tracker: FaceTracker | None = None,
    top_k: int = 3,
    hold: int = 3,
    report: Callable[[str], None] | None = None,
    name: str = "video source",
) -> DemoStats:
    """Run the loop until the source ends, ``max_frames`` frames, or ``q`` in the window.

    Parameters
    ----------
    model : FerModel
    capture : cv2.VideoCapture
        An opened source; it is released at the end.
    source_fps : float
        Frame rate of the source: the written video's rate and a video's timeline clock.
    live : bool
        A camera: the timeline uses wall-clock time since the start.
    writer_path, timeline_path : path, optional
        Write the annotated video (mp4v, every frame) / the per-face timeline CSV.
    show : bool
        Show each annotated frame in a window (needs :func:`gui_available`).
    max_frames : int, optional
    detector, tracker : optional
        Default: :class:`FrameDetector` ``(320)`` and :class:`FaceTracker` ``(0.6)``.
    top_k : int
        Classes in each face's bar chart.
    hold : int
        Keep drawing a face the detector missed for up to this many frames (its last box and
        probabilities); the timeline lists detected faces only.
    report : callable, optional
        Receives a line about once per second of processing (frames per second, faces).
    name : str
        What error messages call the source (the video's path, ``camera 0``).

    Returns
    -------
    DemoStats
    """
    detector = detector or FrameDetector()
    tracker = tracker or FaceTracker()
    say = report or (lambda line: None)
    writer = timeline = None
    frame = gray = None
    stats = DemoStats()
    totals = dict.fromkeys(("read", "detect", "classify", "draw", "write"), 0.0)
    ema_dt = None
    ids: set[int] = set()
    frames_at_report = 0
    try:
        # Compile / warm the classifier for the usual one- and two-face batches before timing.
        for n in (1, 2):
            model.predict_proba(np.zeros((n, model.size, model.size), np.uint8))
        start = last_report = time.perf_counter()
        while max_frames is None or stats.frames < max_frames:
            t0 = time.perf_counter()
            ok, got = capture.read(frame)
            if not ok or got is None:
                if stats.frames == 0:
                    raise FerBenchError(f"{name}: no frame could be read (an empty or damaged "
                                        "video, or a camera that sends nothing)")
                break
            if frame is None or got.shape != frame.shape:
                gray = np.empty(got.shape[:2], np.uint8)
            frame = got
            if frame.ndim == 2:  # a grayscale source: draw in colour anyway
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=gray)
            t1 = time.perf_counter()
            boxes = detector(gray)
            t2 = time.perf_counter()
            proba = model.predict_proba(model.crop_faces(gray, boxes))
            tracks = tracker.update(boxes, proba)
            t3 = time.perf_counter()
            for track in tracker.shown(hold):
                draw_face(frame, track.box, model.classes, track.probabilities, top_k=top_k,
                          face_id=track.face_id)
                ids.add(track.face_id)
            if ema_dt is not None:
                draw_fps(frame, 1.0 / ema_dt, f"{len(tracks)} face{'s' if len(tracks) != 1 else ''}")
            t4 = time.perf_counter()
            if writer_path is not None and writer is None:
                writer = open_writer(writer_path, source_fps, (frame.shape[1], frame.shape[0]))
            if timeline_path is not None and timeline is None:
                timeline = Timeline(timeline_path, model.classes)
            if writer is not None:
                writer.write(frame)
            if timeline is not None:
                now = (t0 - start) if live else stats.frames / source_fps
                for track in tracks:
                    timeline.write(stats.frames, now, track)
            quit_key = False
            if show:
                cv2.imshow("fer-bench demo (q quits)", frame)
                quit_key = (cv2.waitKey(1) & 0xFF) == ord("q")
            t5 = time.perf_counter()
            for key, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                totals[key] += dt
            dt = t5 - t0
            ema_dt = dt if ema_dt is None else 0.9 * ema_dt + 0.1 * dt
            stats.frames += 1
            stats.face_frames += bool(tracks)
            if t5 - last_report >= 1.0:
                n = stats.frames - frames_at_report
                say(f"{t5 - start:6.1f} s: {n / (t5 - last_report):5.1f} FPS, frame {stats.frames}, "
                    f"{len(tracks)} face{'s' if len(tracks) != 1 else ''}")
                last_report, frames_at_report = t5, stats.frames
            if quit_key:
                break
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if timeline is not None:
            timeline.close()
        if show:
            cv2.destroyAllWindows()
    stats.seconds = time.perf_counter() - start
    stats.faces_seen = len(ids)
    stats.stage_ms = {k: 1000 * v / max(stats.frames, 1) for k, v in totals.items()}
    return stats
