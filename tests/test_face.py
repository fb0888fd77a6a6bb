"""The face stage: Haar detection, square crops, any input image, the on-disk cache."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from sklearn.base import clone

import fer_bench.face.stage as stage_module
from fer_bench.data.cache import cache_dir
from fer_bench.data.dataset import FaceDataset
from fer_bench.errors import DataError
from fer_bench.face import FaceStage, apply_face_stage, detect_faces, load_cascade, to_gray
from fer_bench.face.stage import square_around

# The astronaut's face lies roughly in this box (x0, y0, x1, y1) of the 512 x 512 image.
FACE_REGION = (150, 40, 290, 200)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


def _inside(point, region) -> bool:
    x, y = point
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


def test_detect_finds_the_astronaut(astronaut_bgr):
    for image in (astronaut_bgr, cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)):
        boxes = detect_faces(image)
        assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) >= 1
        x, y, w, h = boxes[0]
        assert _inside((x + w / 2, y + h / 2), FACE_REGION)
        areas = boxes[:, 2] * boxes[:, 3]
        assert np.all(np.diff(areas) <= 0)  # largest first


def test_detect_on_large_image_scales_boxes_back(astronaut_bgr):
    big = cv2.resize(astronaut_bgr, (1536, 1536))
    x, y, w, h = detect_faces(big)[0]
    assert _inside(((x + w / 2) / 3, (y + h / 2) / 3), FACE_REGION)
    assert 0 <= x and x + w <= 1536 and 0 <= y and y + h <= 1536


@pytest.mark.parametrize("image", [np.zeros((200, 300), np.uint8), np.full((64, 64), 255, np.uint8),
                                   np.zeros((10, 10), np.uint8), np.zeros((0, 0), np.uint8)])
def test_detect_returns_no_face_on_blank_or_tiny_images(image):
    boxes = detect_faces(image)
    assert boxes.shape == (0, 4)


def test_cascade_is_loaded_once():
    assert load_cascade() is load_cascade()


def test_missing_cv2_data_is_a_clear_error(monkeypatch):
    load_cascade.cache_clear()
    monkeypatch.delattr(cv2, "data")
    try:
        with pytest.raises(DataError, match="Haar cascades"):
            load_cascade()
    finally:
        load_cascade.cache_clear()


@pytest.mark.parametrize("image, expected", [
    (np.array([[0.0, 1.0]]), [[0, 255]]),
    (np.array([[0.0, 300.0]]), [[0, 255]]),
    (np.array([[np.nan, 0.5]]), [[0, 128]]),
    (np.array([[0, 65535]], np.uint16), [[0, 255]]),
    (np.array([[0, 200]], np.int32), [[0, 200]]),
    (np.array([[False, True]]), [[0, 255]]),
    (np.array([[[7], [9]]], np.uint8), [[7, 9]]),
    (np.array([[[255, 255, 255, 0], [0, 0, 0, 255]]], np.uint8), [[255, 0]]),
])
def test_to_gray(image, expected):
    out = to_gray(image)
    assert out.dtype == np.uint8 and out.ndim == 2
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 5), (1, 2, 3, 4)])
def test_to_gray_rejects_non_images(shape):
    with pytest.raises(ValueError, match="image"):
        to_gray(np.zeros(shape))


def test_square_around_stays_inside_the_image():
    assert square_around((0, 0, 20, 10), (100, 200), 0.2) == (0, 0, 28)
    assert square_around((90, 90, 10, 10), (100, 100), 0.5) == (80, 80, 20)
    x0, y0, side = square_around((0, 0, 300, 300), (100, 120), 0.2)
    assert side == 100 and 0 <= x0 <= 20 and y0 == 0


def test_detect_mode_crops_the_face(astronaut_bgr):
    stage = FaceStage(mode="detect")
    out = stage.transform([astronaut_bgr])
    assert out.shape == (1, 48, 48) and out.dtype == np.uint8
    assert stage.detected_.tolist() == [True] and stage.detection_rate_ == 1.0
    x, y, w, h = stage.boxes_[0]
    assert _inside((x + w / 2, y + h / 2), FACE_REGION)


def test_bad_inputs_never_crash():
    rng = np.random.default_rng(0)
    images = [
        np.zeros((300, 300), np.uint8),                       # all black, no face
        rng.integers(0, 256, (37, 91), dtype=np.uint8),       # odd, non-square
        rng.integers(0, 256, (120, 80, 3), dtype=np.uint8),   # colour
        rng.random((70, 70, 4)),                              # float BGRA
        np.ones((1, 1), np.uint8),                            # a single pixel
    ]
    stage = FaceStage(mode="auto", size=32, equalize="hist")
    out = stage.transform(images)
    assert out.shape == (5, 32, 32) and out.dtype == np.uint8
    assert not out[0].any()  # black stays black, equalised or not
    assert stage.attempted_.tolist() == [True, True, True, True, False]
    assert stage.detected_.tolist() == [False] * 5
    assert stage.detection_rate_ == 0.0


def test_skip_mode_centre_crops_and_reports_no_rate():
    image = np.zeros((48, 96), np.uint8)
    image[:, 48:] = 255
    stage = FaceStage(mode="skip")
    out = stage.transform([image])
    assert stage.detection_rate_ is None and not stage.attempted_.any()
    np.testing.assert_array_equal(out[0, :, :24], 0)
    np.testing.assert_array_equal(out[0, :, 24:], 255)


def test_auto_mode_passes_precropped_batches_through():
    X = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    stage = FaceStage()
    np.testing.assert_array_equal(stage.transform(X), X)
    assert stage.detection_rate_ is None


@pytest.mark.parametrize("method", ["hist", "clahe"])
def test_equalize_spreads_the_histogram(method):
    low_contrast = (np.add.outer(np.arange(48), np.arange(48)) % 20 + 100).astype(np.uint8)
    out = FaceStage(equalize=method).transform([low_contrast])[0]
    assert np.ptp(out) > 2 * np.ptp(low_contrast)


@pytest.mark.parametrize("params", [{"mode": "guess"}, {"equalize": "gamma"}, {"size": 0}])
def test_bad_parameters_are_rejected(params):
    with pytest.raises(ValueError):
        FaceStage(**params).transform([np.zeros((48, 48), np.uint8)])


def test_empty_image_is_a_clear_error():
    with pytest.raises(DataError, match="image #1"):
        FaceStage().transform([np.zeros((48, 48), np.uint8), np.zeros((0, 5), np.uint8)])


def test_single_image_array_is_a_clear_error():
    with pytest.raises(ValueError, match="batch"):
        FaceStage().transform(np.zeros((48, 48), np.uint8))


def test_clone_round_trip():
    stage = FaceStage(mode="detect", size=64, margin=0.1, equalize="clahe")
    assert clone(stage).get_params() == stage.get_params()


def _dataset(images) -> FaceDataset:
    arr = np.empty(len(images), dtype=object)
    arr[:] = images
    n = len(images)
    return FaceDataset(name="toy", images=arr, labels=np.zeros(n, np.int64),
                       paths=np.array([f"img{i}.png" for i in range(n)]), meta={"root": "x"})


def test_apply_face_stage_caches_detection(astronaut_bgr, monkeypatch):
    ds = _dataset([astronaut_bgr, np.zeros((100, 80), np.uint8)])
    stage = FaceStage(mode="auto")
    faces, rate = apply_face_stage(ds, stage)
    assert faces.shape == (2, 48, 48) and rate == 0.5
    assert len(list((cache_dir() / "faces").glob("*.npz"))) == 1

    def no_detection(*args, **kwargs):
        raise AssertionError("detection ran again instead of reading the cache")

    monkeypatch.setattr(stage_module, "detect_faces", no_detection)
    again = FaceStage(mode="auto")
    faces2, rate2 = apply_face_stage(ds, again)
    np.testing.assert_array_equal(faces, faces2)
    assert rate2 == 0.5 and again.detected_.tolist() == [True, False]
    with pytest.raises(AssertionError):  # other parameters are another cache entry
        apply_face_stage(ds, FaceStage(mode="auto", margin=0.3))


def test_apply_face_stage_on_precropped_data_writes_no_cache():
    ds = _dataset([np.zeros((48, 48), np.uint8)] * 3)
    faces, rate = apply_face_stage(ds, FaceStage())
    assert faces.shape == (3, 48, 48) and rate is None
    assert not (cache_dir() / "faces").exists()
