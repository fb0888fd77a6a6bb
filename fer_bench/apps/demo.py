"""The real-time loop: detect, classify, track and smooth, draw, show or write, log a timeline.

Per frame: grayscale, faces found on a downscaled copy (``detect_width`` px wide) and confirmed
and followed at full resolution (:class:`~.frame_detector.FrameDetector`), crops of every face
classified in one batched ``predict_proba`` call, faces followed across frames by box overlap
(IoU) with their probabilities smoothed by an exponential moving average
(:class:`~.tracking.FaceTracker`), then the box, label and top-3 bars drawn with the frame
rate. The frame buffers are reused from frame to frame (:mod:`.video_io`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from ..models import FerModel
from .draw import draw_face, draw_fps
from .frame_detector import FrameDetector
from .tracking import FaceTracker, Track, iou_matrix
from .video_io import (
    DEFAULT_FPS, FrameOutputs, FrameReader, Timeline, gui_available, open_source, open_writer,
)

# The loop's parts live in their own modules; `fer_bench.apps.demo` names them all.
__all__ = ["DEFAULT_FPS", "DemoStats", "FaceTracker", "FrameDetector", "Timeline", "Track",
           "gui_available", "iou_matrix", "open_source", "open_writer", "run_demo"]

#: The stages a frame goes through, timed apart in :attr:`DemoStats.stage_ms`.
STAGES = ("read", "detect", "classify", "draw", "write")


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
        Default: :class:`FrameDetector` ``(320)``, :class:`FaceTracker` ``(0.6)``.
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
    reader = FrameReader(capture, name)
    outputs = FrameOutputs(writer_path, timeline_path, show, source_fps, model.classes)
    stats = DemoStats()
    ids: set[int] = set()
    try:
        _warm_up(model)
        pace = _Pace(report or (lambda line: None), time.perf_counter())
        while max_frames is None or stats.frames < max_frames:
            t0 = time.perf_counter()
            if not reader.read(stats.frames):
                break
            frame, gray = reader.frame, reader.gray
            t1 = time.perf_counter()
            boxes = detector(gray)
            t2 = time.perf_counter()
            tracks = tracker.update(boxes, model.predict_proba(model.crop_faces(gray, boxes)))
            t3 = time.perf_counter()
            ids.update(_draw(frame, model.classes, tracker.shown(hold), top_k, pace.ema_dt,
                             len(tracks)))
            t4 = time.perf_counter()
            now = (t0 - pace.start) if live else stats.frames / source_fps
            quit_key = outputs.emit(frame, stats.frames, now, tracks)
            stats.frames += 1
            stats.face_frames += bool(tracks)
            pace.tick((t0, t1, t2, t3, t4, time.perf_counter()), stats.frames, len(tracks))
            if quit_key:
                break
    finally:
        capture.release()
        outputs.close()
    return pace.finish(stats, len(ids))


class _Pace:
    """The loop's clock: seconds per stage summed over frames, the smoothed frame time the
    frames show, and a progress line about once per second of processing."""

    def __init__(self, say: Callable[[str], None], start: float) -> None:
        self.say = say
        self.start = self.last_report = start
        self.frames_at_report = 0
        self.totals = dict.fromkeys(STAGES, 0.0)
        self.ema_dt: float | None = None

    def tick(self, marks: tuple[float, ...], frames: int, faces: int) -> None:
        """Account a frame whose stages started at ``marks`` (and the last ended at
        ``marks[-1]``); ``frames`` so far, ``faces`` in this one."""
        for key, begin, end in zip(self.totals, marks, marks[1:]):
            self.totals[key] += end - begin
        now, dt = marks[-1], marks[-1] - marks[0]
        self.ema_dt = dt if self.ema_dt is None else 0.9 * self.ema_dt + 0.1 * dt
        if now - self.last_report >= 1.0:
            n = frames - self.frames_at_report
            self.say(f"{now - self.start:6.1f} s: {n / (now - self.last_report):5.1f} FPS, "
                     f"frame {frames}, {_faces(faces)}")
            self.last_report, self.frames_at_report = now, frames

    def finish(self, stats: DemoStats, faces_seen: int) -> DemoStats:
        """``stats`` completed with the wall time, the faces seen and the mean stage times."""
        stats.seconds = time.perf_counter() - self.start
        stats.faces_seen = faces_seen
        stats.stage_ms = {k: 1000 * v / max(stats.frames, 1) for k, v in self.totals.items()}
        return stats


def _warm_up(model: FerModel) -> None:
    """Compile / warm the classifier for the usual one- and two-face batches before timing."""
    for n in (1, 2):
        model.predict_proba(np.zeros((n, model.size, model.size), np.uint8))


def _draw(frame: np.ndarray, classes: tuple[str, ...], shown: list[Track], top_k: int,
          frame_s: float | None, n_faces: int) -> list[int]:
    """Draw the ``shown`` faces and, once a frame time is known, the frame rate; return the
    ids drawn."""
    for track in shown:
        draw_face(frame, track.box, classes, track.probabilities, top_k=top_k,
                  face_id=track.face_id)
    if frame_s is not None:
        draw_fps(frame, 1.0 / frame_s, _faces(n_faces))
    return [t.face_id for t in shown]


def _faces(n: int) -> str:
    return f"{n} face{'s' if n != 1 else ''}"
