"""The demo's video input and output: the camera or video file, the frames read from it into
reused buffers, and where the annotated frames go (a window, an mp4 file, a per-face timeline
CSV)."""
from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..errors import FerBenchError
from .tracking import Track

#: Frame rate assumed for a camera or a video file that does not report one.
DEFAULT_FPS = 30.0


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


class FrameReader:
    """Reads a capture's frames into buffers reused from frame to frame: the colour frame (a
    grayscale source is converted, to draw in colour) and its grayscale copy."""

    def __init__(self, capture: cv2.VideoCapture, name: str) -> None:
        self.capture = capture
        self.name = name
        self.frame: np.ndarray | None = None
        self.gray: np.ndarray | None = None

    def read(self, index: int) -> bool:
        """Read frame number ``index`` into :attr:`frame` and :attr:`gray`; False at the end of
        the source. A source whose first frame cannot be read is a one-line error."""
        ok, got = self.capture.read(self.frame)
        if not ok or got is None:
            if index == 0:
                raise FerBenchError(f"{self.name}: no frame could be read (an empty or damaged "
                                    "video, or a camera that sends nothing)")
            return False
        if self.frame is None or got.shape != self.frame.shape:
            self.gray = np.empty(got.shape[:2], np.uint8)
        self.frame = got
        if self.frame.ndim == 2:  # a grayscale source: draw in colour anyway
            self.frame = cv2.cvtColor(self.frame, cv2.COLOR_GRAY2BGR)
        cv2.cvtColor(self.frame, cv2.COLOR_BGR2GRAY, dst=self.gray)
        return True


class FrameOutputs:
    """Where the annotated frames go: the video file and the timeline, each opened at the first
    frame (whose size the video takes), and the window.

    Parameters
    ----------
    writer_path, timeline_path : path, optional
        Write the annotated video (mp4v, every frame) / the per-face timeline CSV.
    show : bool
        Show each frame in a window; ``q`` there asks to stop.
    fps : float
        The written video's frame rate.
    classes : tuple of str
        The model's classes (the timeline's columns).
    """

    WINDOW = "fer-bench demo (q quits)"

    def __init__(self, writer_path: str | os.PathLike | None,
                 timeline_path: str | os.PathLike | None, show: bool, fps: float,
                 classes: tuple[str, ...]) -> None:
        self.writer_path, self.timeline_path = writer_path, timeline_path
        self.show, self.fps, self.classes = show, fps, classes
        self.writer: cv2.VideoWriter | None = None
        self.timeline: Timeline | None = None

    def emit(self, frame: np.ndarray, index: int, time_s: float,
             tracks: Sequence[Track]) -> bool:
        """Write and show frame ``index`` (taken at ``time_s``) and its faces ``tracks``;
        return whether ``q`` was pressed in the window."""
        if self.writer_path is not None and self.writer is None:
            self.writer = open_writer(self.writer_path, self.fps, (frame.shape[1], frame.shape[0]))
        if self.timeline_path is not None and self.timeline is None:
            self.timeline = Timeline(self.timeline_path, self.classes)
        if self.writer is not None:
            self.writer.write(frame)
        if self.timeline is not None:
            for track in tracks:
                self.timeline.write(index, time_s, track)
        if not self.show:
            return False
        cv2.imshow(self.WINDOW, frame)
        return (cv2.waitKey(1) & 0xFF) == ord("q")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
        if self.timeline is not None:
            self.timeline.close()
        if self.show:
            cv2.destroyAllWindows()
