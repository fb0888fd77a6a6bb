"""The user-facing programs: train -> predict round trip, photos, EXIF, errors, the video demo."""
from __future__ import annotations

import csv
import io
import json
import struct

import cv2
import numpy as np
import pytest
import skimage.data

from fer_bench.apps.demo import FaceTracker, FrameDetector, iou_matrix
from fer_bench.apps.predict import annotate, predict_files, predict_image
from fer_bench.apps.train_model import train_model
from fer_bench.cli.main import main
from fer_bench.data.io import read_color, read_gray
from fer_bench.data.synthetic import render_faces
from fer_bench.models import FerModel, load_model, save_model

SMALL = ["--dataset-option", "n_per_class=30", "--param", "n_components=15"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A small baseline saved to a model file (trained once for the module, own cache dir)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        model = train_model("pca-logreg", "synthetic", dataset_options={"n_per_class": 30},
                            params={"n_components": 15})
    return save_model(model, tmp_path_factory.mktemp("model") / "m.ferb")


@pytest.fixture(scope="module")
def model(model_path) -> FerModel:
    return load_model(model_path)


def astronaut_bgr() -> np.ndarray:
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture
def astronaut_png(tmp_path):
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr())
    return path


def run_json(model, paths):
    out, err = io.StringIO(), io.StringIO()
    code = predict_files(model, paths, as_json=True, out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


# --- predict -------------------------------------------------------------------------------------

def test_astronaut_has_one_face_with_probabilities_of_every_class(model, astronaut_png):
    code, (result,), err = run_json(model, [astronaut_png])
    assert code == 0 and err == ""
    assert result["path"] == str(astronaut_png) and (result["width"], result["height"]) == (512, 512)
    (face,) = result["faces"]
    x, y, w, h = face["box"]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180  # her face, not the flag or the suit
    probs = face["probabilities"]
    assert list(probs) == list(model.classes) and len(probs) == 7
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] == max(probs, key=probs.get)


def test_text_output_lists_classes_high_to_low(model_path, astronaut_png, capsys):
    assert main(["predict", str(astronaut_png), "--model", str(model_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{astronaut_png}: 1 face" and lines[1].startswith("face 1 at x=")
    rows = [ln.split(":") for ln in lines[2:9]]
    values = [float(v.strip().rstrip("%")) for _, v in rows]
    assert values == sorted(values, reverse=True) and sum(values) == pytest.approx(100, abs=0.5)
    assert lines[1].endswith(rows[0][0].strip())  # the label is the top class


def test_blank_image_has_no_face(model, tmp_path, capsys):
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((480, 640, 3), 200, np.uint8))
    code, (result,), _ = run_json(model, [path])
    assert code == 0 and result["faces"] == []
    predict_files(model, [path])
    assert capsys.readouterr().out.strip() == f"{path}: no face found"


def test_small_crop_is_taken_as_the_face(model, tmp_path):
    face = render_faces(np.array([3]), np.random.default_rng(1))[0]  # 48 x 48 gray
    path = tmp_path / "crop.png"
    cv2.imwrite(str(path), face)
    _, (result,), _ = run_json(model, [path])
    (found,) = result["faces"]
    assert found["whole_image"] and found["box"] == [0, 0, 48, 48]
    expected = model.predict_proba(face[None])[0]
    np.testing.assert_allclose(list(found["probabilities"].values()), expected, atol=1e-5)


def test_bad_files_are_reported_and_the_others_processed(model_path, astronaut_png, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    argv = ["predict", str(text), str(astronaut_png), str(missing), "--model", str(model_path),
            "--json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["path"] for r in records] == [str(text), str(astronaut_png), str(missing)]
    assert "error" in records[0] and len(records[1]["faces"]) == 1 and "error" in records[2]
    err = captured.err.splitlines()
    assert len(err) == 2 and str(text) in err[0] and str(missing) in err[1]


def test_train_then_predict_round_trip_on_the_synthetic_default(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FER_BENCH_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "baseline.ferb"
    assert main(["train", "pca-logreg", "--dataset", "synthetic", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and f"wrote {out}" in printed
    model = load_model(out)
    assert model.provenance["command"][:6] == ["python", "-m", "fer_bench", "train", "pca-logreg",
                                               "--dataset"]
    faces = render_faces(np.arange(7), np.random.default_rng(3))
    paths = []
    for k, face in enumerate(faces):
        paths.append(tmp_path / f"face{k}.png")
        cv2.imwrite(str(paths[-1]), face)
    assert main(["predict", *map(str, paths), "--model", str(out), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = np.array([list(r["faces"][0]["probabilities"].values()) for r in records])
    np.testing.assert_allclose(got, model.predict_proba(faces), atol=1e-5)


def test_train_rejects_a_protocol_of_another_dataset(capsys):
    assert main(["train", "pca-logreg", "--dataset", "synthetic", "--protocol",
                 "fer2013-official"]) == 2
    assert "runs on fer2013, not synthetic" in capsys.readouterr().err


def test_annotate_writes_boxes_and_bars(model, model_path, astronaut_png, tmp_path, capsys):
    out = tmp_path / "annotated.png"
    assert main(["predict", str(astronaut_png), "--model", str(model_path),
                 "--annotate", str(out)]) == 0
    drawn = cv2.imread(str(out))
    assert drawn.shape == (512, 512, 3)
    original = astronaut_bgr()
    changed = np.any(drawn != original, axis=2)
    assert 0.005 < changed.mean() < 0.3  # boxes, labels and a chart; the photo is still there
    # Several images go to a folder; a small crop is enlarged so its labels stay legible.
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), render_faces(np.array([0]), np.random.default_rng(0))[0])
    folder = tmp_path / "ann"
    assert main(["predict", str(astronaut_png), str(crop), "--model", str(model_path),
                 "--annotate", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["astronaut.annotated.png", "crop.annotated.png"]
    assert max(cv2.imread(str(folder / "crop.annotated.png")).shape[:2]) >= 480
    small = annotate(np.zeros((48, 48), np.uint8), predict_image(model, np.zeros((48, 48), np.uint8)),
                     model.classes)
    assert small.ndim == 3 and small.shape[0] >= 480


def _exif_orientation_segment(orientation: int) -> bytes:
    """An APP1 Exif segment holding only the Orientation tag (little-endian TIFF)."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + b"\0" * 4
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def test_exif_rotation_is_honoured(model, tmp_path):
    upright = astronaut_bgr()[:, :448]  # not square, so a rotation shows in the shape
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # as a camera held sideways
    ok, jpeg = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = jpeg.tobytes()
    path = tmp_path / "sideways.jpg"
    path.write_bytes(data[:2] + _exif_orientation_segment(6) + data[2:])
    color = read_color(path)
    assert color.shape == upright.shape
    assert np.abs(color.astype(int) - upright).mean() < 4  # only JPEG loss
    assert read_gray(path).shape == upright.shape[:2]
    _, (result,), _ = run_json(model, [path])
    assert (result["width"], result["height"]) == (448, 512) and len(result["faces"]) == 1


def test_read_color_handles_gray_alpha_and_16_bit(tmp_path):
    gray = (np.arange(64 * 80) % 256).astype(np.uint8).reshape(64, 80)
    bgra = np.dstack([gray, gray, gray, np.full_like(gray, 7)])
    deep = gray.astype(np.uint16) * 257
    for name, image in (("g.png", gray), ("a.png", bgra), ("d.png", deep)):
        cv2.imwrite(str(tmp_path / name), image)
        color = read_color(tmp_path / name)
        assert color.shape == (64, 80, 3) and color.dtype == np.uint8
        np.testing.assert_array_equal(color[:, :, 1], gray)


# --- demo ----------------------------------------------------------------------------------------

def write_clip(path, n_frames: int = 20, size=(640, 480)) -> None:
    """A 640x480 mp4v clip of the astronaut's head and shoulders moving across a gray frame."""
    part = astronaut_bgr()[0:300, 80:380]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, size)
    assert writer.isOpened()
    for i in range(n_frames):
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        x = 40 + 6 * i
        frame[60:360, x:x + 300] = part
        writer.write(frame)
    writer.release()


def count_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_demo_on_a_video_writes_annotated_video_and_timeline(model_path, tmp_path, capsys):
    clip, out, timeline = tmp_path / "clip.mp4", tmp_path / "out.mp4", tmp_path / "t.csv"
    write_clip(clip, 20)
    assert main(["demo", "--video", str(clip), "--out", str(out), "--timeline", str(timeline),
                 "--model", str(model_path), "--no-window"]) == 0
    assert "20 frames in" in capsys.readouterr().out
    assert count_frames(out) == 20
    with open(timeline, newline="") as fh:
        rows = list(csv.DictReader(fh))
    model = load_model(model_path)
    assert list(rows[0]) == ["frame", "time_s", "face_id", "x", "y", "w", "h", "label",
                             *(f"p_{c}" for c in model.classes)]
    assert len(rows) >= 15  # the face is found in (nearly) every frame
    assert {r["face_id"] for r in rows} == {"1"}  # one face, followed across frames
    first, last = rows[0], rows[-1]
    assert int(last["x"]) > int(first["x"])  # it moves right
    assert float(last["time_s"]) == pytest.approx(int(last["frame"]) / 20.0, abs=1e-3)
    for r in rows:
        p = [float(r[f"p_{c}"]) for c in model.classes]
        assert sum(p) == pytest.approx(1.0, abs=1e-3) and r["label"] == model.classes[int(np.argmax(p))]
    original = cv2.VideoCapture(str(clip)).read()[1]
    drawn = cv2.VideoCapture(str(out)).read()[1]
    assert np.abs(drawn.astype(int) - original).mean() > 1  # the boxes and labels are drawn


def test_demo_max_frames_and_default_timeline(model_path, tmp_path):
    clip, out = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    write_clip(clip, 12)
    assert main(["demo", "--video", str(clip), "--out", str(out), "--model", str(model_path),
                 "--no-window", "--max-frames", "5"]) == 0
    assert count_frames(out) == 5
    assert (tmp_path / "out.timeline.csv").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--video", "{tmp}/missing.mp4", "--out", "{tmp}/o.mp4"], "video file not found"),
    (["--video", "{tmp}/junk.mp4", "--out", "{tmp}/o.mp4"], "{tmp}/junk.mp4"),
    (["--video", "{tmp}/junk.mp4"], "pass --out"),
])
def test_demo_errors_are_one_line(model_path, tmp_path, capsys, argv, message):
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 50)
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["demo", *argv, "--model", str(model_path), "--no-window"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message.format(tmp=tmp_path) in err
    assert len(err.splitlines()) == 1


def test_tracker_keeps_ids_and_smooths():
    tracker = FaceTracker(smoothing=0.5, max_missed=1)
    a = np.array([0.0, 1.0])
    b = np.array([1.0, 0.0])
    (t1,) = tracker.update(np.array([[100, 100, 50, 50]]), a[None])
    (t2,) = tracker.update(np.array([[105, 102, 50, 50]]), b[None])
    assert t2.face_id == t1.face_id == 1
    np.testing.assert_allclose(t2.probabilities, [0.5, 0.5])
    # A second face far away gets a new id; the first keeps its own whatever the order.
    t3, t4 = tracker.update(np.array([[400, 100, 60, 60], [108, 100, 50, 50]]), np.stack([a, b]))
    assert (t3.face_id, t4.face_id) == (2, 1)
    np.testing.assert_allclose(t4.probabilities, [0.75, 0.25])
    tracker.update(np.zeros((0, 4)), np.zeros((0, 2)))
    assert [t.face_id for t in tracker.shown(hold=1)] == [1, 2]  # missed once: still drawn
    assert tracker.shown(hold=0) == []
    tracker.update(np.zeros((0, 4)), np.zeros((0, 2)))  # missed twice > max_missed: dropped
    assert tracker.tracks == []
    (t5,) = tracker.update(np.array([[108, 100, 50, 50]]), a[None])
    assert t5.face_id == 3


def test_iou_matrix():
    iou = iou_matrix(np.array([[0, 0, 10, 10], [20, 20, 10, 10]]), np.array([[5, 0, 10, 10]]))
    np.testing.assert_allclose(iou[:, 0], [50 / 150, 0.0])


def test_frame_detector_maps_boxes_back_to_the_frame():
    frame = np.full((480, 640), 90, np.uint8)
    gray = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2GRAY)[0:300, 80:380]
    frame[60:360, 100:400] = gray
    (box,) = FrameDetector(width=320)(frame)
    # The astronaut's face at full size sits near (177 - 80 + 100, 67 + 60) with side ~93.
    assert abs(box[0] - 197) < 12 and abs(box[1] - 127) < 12 and abs(box[2] - 93) < 14


def test_frame_detector_follows_a_small_face_through_a_clip():
    """A 50-px face: found at reduced size, then followed at full size in nearly every frame
    (one pass at 320 px found it in none), and nothing else is taken for a face."""
    from benchmarks.perf.frames import make_clip

    frames, truth = make_clip(50)  # 120 frames, 4 s at 30 FPS
    detector = FrameDetector()
    found = []
    for frame, true in zip(frames, truth):
        boxes = detector(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        assert len(boxes) <= 1
        found.append(len(boxes) == 1 and iou_matrix(boxes, true[None])[0, 0] > 0.4)
    assert sum(found) >= 114  # >= 95 %
    single = FrameDetector(search_every=1)  # searching every frame finds the same face
    boxes = single(cv2.cvtColor(frames[-1], cv2.COLOR_BGR2GRAY))
    assert len(boxes) == 1 and iou_matrix(boxes, truth[-1][None])[0, 0] > 0.4


@pytest.mark.integration
def test_train_on_fer2013_reports_privatetest_and_predicts_its_crops(shared_root, tmp_path, capsys):
    out = tmp_path / "fer.ferb"
    assert main(["train", "pca-logreg", "--dataset", "fer2013", "--data-root", str(shared_root),
                 "--limit-train", "700", "--param", "n_components=30", "--out", str(out)]) == 0
    p = load_model(out).provenance
    assert (p["protocol"], p["train_split"], p["val_split"], p["test_split"]) == (
        "fer2013-official", "Training", "PublicTest", "PrivateTest")
    assert (p["n_train"], p["n_val"], p["n_test"]) == (700, 3589, 3589)
    assert 1 / 7 < p["test_accuracy"] < 1
    image = sorted((shared_root / "fer2013" / "test" / "happy").glob("PrivateTest_*.jpg"))[0]
    capsys.readouterr()
    assert main(["predict", str(image), "--model", str(out), "--json"]) == 0
    (face,) = json.loads(capsys.readouterr().out)["faces"]
    assert len(face["probabilities"]) == 7 and face["box"][2:] == [48, 48]
