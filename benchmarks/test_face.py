"""Face stage on 640x480 frames holding 0, 1 and 3 faces (built from scikit-image's sample
images): Haar detection alone, the whole stage (detect, crop, resize, equalise), and cropping
with resizing and equalisation of already found faces."""
from __future__ import annotations

import cv2
import pytest

from fer_bench.face import FaceStage, detect_faces
from fer_bench.models import FerModel

from .perf.frames import FACE_COUNTS, FRAME_SIZE, make_clip, make_frame

FRAME = f"{FRAME_SIZE[0]}x{FRAME_SIZE[1]}"


@pytest.fixture(scope="module")
def frames():
    return {n: make_frame(n) for n in FACE_COUNTS}


@pytest.mark.benchmark(group="face: Haar detection")
@pytest.mark.parametrize("n_faces", FACE_COUNTS, ids=lambda n: f"{n}-faces")
def test_detect(measure, frames, n_faces):
    gray = cv2.cvtColor(frames[n_faces], cv2.COLOR_BGR2GRAY)
    found = len(detect_faces(gray))
    measure(lambda: detect_faces(gray), kind="face-detect", unit="frames", faces=n_faces,
            faces_found=found, frame=FRAME)


@pytest.mark.benchmark(group="face: whole stage")
@pytest.mark.parametrize("n_faces", FACE_COUNTS, ids=lambda n: f"{n}-faces")
def test_face_stage(measure, frames, n_faces):
    """BGR frame -> gray -> largest face -> square crop -> 48x48 -> equalised (FaceStage)."""
    stage = FaceStage(mode="detect", size=48, equalize="hist").fit()
    frame = [frames[n_faces]]
    measure(lambda: stage.transform(frame), kind="face-stage", unit="frames", faces=n_faces,
            frame=FRAME)


@pytest.mark.benchmark(group="face: crop + resize + equalise")
def test_crop_resize_equalise(measure, frames):
    """The three faces of a frame cut out as a model's training crops were (square + margin,
    48x48 area resize, histogram equalisation), as ``predict`` and the demo do per frame."""
    gray = cv2.cvtColor(frames[3], cv2.COLOR_BGR2GRAY)
    boxes = detect_faces(gray)
    cropper = FerModel(None, (), {"size": 48, "margin": 0.2, "equalize": "hist"}, "classical")
    measure(lambda: cropper.crop_faces(gray, boxes), kind="face-crop", items=len(boxes),
            unit="faces", frame=FRAME)


@pytest.mark.benchmark(group="face: following a face through a clip")
@pytest.mark.parametrize("face_px", (50, 90), ids=lambda px: f"{px}px-face")
def test_follow_face_in_clip(measure, face_px):
    """The demo's detector over a 120-frame 640x480 clip with one drifting face: frames per
    second (items = frames) and the share of frames in which it has the face (the demo's
    target: a face of 50 px or more in >= 95 % of the frames, >= 30 FPS on 2 cores)."""
    from fer_bench.apps.demo import FrameDetector, iou_matrix

    frames, truth = make_clip(face_px)
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]

    def follow() -> float:
        detector = FrameDetector()  # the demo's defaults, starting with no face known
        found = [len(b) > 0 and iou_matrix(b, t[None]).max() > 0.4
                 for b, t in ((detector(g), t) for g, t in zip(grays, truth))]
        return float(sum(found) / len(found))

    share = measure(follow, kind="face-follow", items=len(grays), unit="frames",
                    face_px=face_px, frame=FRAME)
    assert share >= 0.95  # every call starts afresh, so each gives the same share
