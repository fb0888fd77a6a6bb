"""One face framing across datasets: measured on a model's pre-cropped training faces, applied
to every face the detector finds elsewhere (``run`` cross jobs, ``evaluate``, ``predict``)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import fer_bench.face.detect as detect_module
from fakes import face, write_image
from fer_bench.errors import FerBenchError, ModelFileError
from fer_bench.face import framing
from fer_bench.face.stage import FaceStage, square_around
from fer_bench.harness.jobs import expand_jobs, resolve_selection
from fer_bench.harness.params import face_params
from fer_bench.harness.runner import execute_jobs

#: The fake cascade's box: this fraction of the upscaled crop, centred this far below its centre.
BOX, LOW = 0.8, 0.05


def fake_cascade(gray, min_size=24, **_):
    """A box ``BOX`` of the padded canvas's inner crop, ``LOW`` crop sides below its centre."""
    h, w = gray.shape
    inner = w / (1 + 2 * framing.PAD)
    side = BOX * inner
    cx, cy = w / 2, h / 2 + LOW * inner
    return np.array([[round(cx - side / 2), round(cy - side / 2), round(side), round(side)]])


def test_the_framing_is_the_detectors_box_on_the_training_crops(monkeypatch):
    monkeypatch.setattr(detect_module, "detect_faces", fake_cascade)
    crops = np.random.default_rng(0).integers(0, 256, (50, 48, 48), np.uint8)
    found = framing.measure_framing(crops)
    assert found == {"box_scale": pytest.approx(BOX, abs=0.01),
                     "box_offset": pytest.approx(LOW, abs=0.01), "found": 50, "sampled": 50}
    assert framing.measure_framing(crops) == found  # cached: the same answer, no detection
    monkeypatch.setattr(detect_module, "detect_faces",
                        lambda g, **_: np.zeros((0, 4), np.int64))
    assert framing.measure_framing(crops[:40] + 1) is None  # no faces found: keep the margin


def test_a_measured_framing_cuts_the_square_the_training_crops_had():
    box = (100, 100, 80, 80)  # centre (140, 140)
    assert square_around(box, (480, 640), 0.2) == (84, 84, 112)  # the margin rule: 1.4 x box
    x0, y0, side = square_around(box, (480, 640), 0.2, box_scale=0.8, box_offset=0.05)
    assert side == 100 and x0 == 90 and y0 == round(140 - 0.05 * 100 - 50)
    with pytest.raises(ValueError, match="box_scale"):
        FaceStage(box_scale=5).fit()
    with pytest.raises(FerBenchError, match="box_offset"):
        face_params({"box_offset": 0.9})
    # unset, they stay out of every configuration (old hashes hold)
    assert set(face_params({})) == {"mode", "size", "margin", "equalize"}
    assert face_params({"box_scale": 0.97})["box_scale"] == 0.97


def make_frames(root, n=6, classes=("angry", "happy", "sad")):
    rng = np.random.default_rng(0)
    for c in classes:
        for k in range(n):
            write_image(root / c / f"{c}{k}.png", face(rng, (200, 200)))
    return f"folder:{root}"


def test_cross_jobs_cut_detected_test_faces_with_the_models_framing(tmp_path, monkeypatch):
    monkeypatch.setattr(detect_module, "detect_faces", fake_cascade)
    import fer_bench.face.stage as stage_module

    cuts = []
    real = stage_module.square_around

    def spy(box, shape, margin, box_scale=None, box_offset=0.0):
        cuts.append((box_scale, box_offset))
        return real(box, shape, margin, box_scale, box_offset)

    monkeypatch.setattr(stage_module, "square_around", spy)
    monkeypatch.setattr(stage_module, "detect_faces", fake_cascade)
    frames = make_frames(tmp_path / "frames")
    sel = resolve_selection(pipelines="pca-logreg", protocols=f"cross:synthetic->{frames}")
    jobs = expand_jobs(sel, [0], dataset_options={"synthetic": {"n_per_class": 12}})
    summary = execute_jobs(jobs, tmp_path / "out", progress=False)
    [record] = summary.records
    assert record["status"] == "ok", record.get("error")
    assert record["framing"]["applied"] is True
    assert record["framing"]["box_scale"] == pytest.approx(BOX, abs=0.01)
    assert "box_scale" not in record["face"]  # the job's settings; the framing is the model's
    scale = record["framing"]["box_scale"]
    assert cuts[-18:] == [(scale, record["framing"]["box_offset"])] * 18  # every test face


def test_model_files_carry_the_framing_and_refuse_nonsense(tmp_path, monkeypatch):
    monkeypatch.setattr(detect_module, "detect_faces", fake_cascade)
    from fer_bench.apps.train_model import train_model
    from fer_bench.models import load_model, save_model
    from fer_bench.modelfile import read_header

    model = train_model("pca-logreg", "synthetic", dataset_options={"n_per_class": 12})
    assert model.face["box_scale"] == pytest.approx(BOX, abs=0.01)
    assert model.provenance["framing"]["found"] == model.provenance["framing"]["sampled"]
    path = save_model(model, tmp_path / "m.ferb")
    assert read_header(path)["preprocessing"]["crop"].startswith("square of side box")
    loaded = load_model(path)
    gray = np.zeros((300, 300), np.uint8)
    gray[100:200, 100:200] = 255  # the face box exactly; the crop is box / 0.8 around it
    crop = loaded.crop_faces(gray, np.array([[100, 100, 100, 100]]))[0]
    white = (crop > 128).mean()
    assert white == pytest.approx(loaded.face["box_scale"] ** 2, abs=0.05)
    model.face["box_scale"] = 7.0
    with pytest.raises(ModelFileError, match="box_scale"):
        load_model(save_model(model, tmp_path / "bad.ferb"))


def test_fer2013_crops_put_back_in_a_frame_are_cut_out_again(shared_root):
    """On real faces: a FER2013 crop enlarged inside a replicated border is found by the
    cascade and cut back out with the measured framing nearly as it was, where the margin rule
    cuts a wider view."""
    from fer_bench.data import load_dataset

    ds = load_dataset("fer2013", shared_root)
    train = np.asarray(ds.images)[ds.splits == "Training"]
    measured = framing.measure_framing(train)
    assert 0.85 <= measured["box_scale"] <= 1.1 and abs(measured["box_offset"]) < 0.05
    assert measured["found"] >= 0.5 * measured["sampled"]
    faces = np.asarray(ds.images)[ds.splits == "PublicTest"][:40]
    framed = FaceStage(mode="detect", **framing.stage_params(measured))
    plain = FaceStage(mode="detect")

    def frame(crop):
        up = cv2.resize(crop, (160, 160), interpolation=cv2.INTER_CUBIC)
        return cv2.copyMakeBorder(up, 120, 120, 120, 120, cv2.BORDER_REPLICATE)

    photos = [frame(c) for c in faces]
    a, b = framed.transform(photos), plain.transform(photos)
    hit = framed.detected_
    assert hit.mean() > 0.5

    def error(out):
        return np.abs(out[hit].astype(float) - faces[hit]).mean()

    assert error(a) < 0.8 * error(b)  # (each face's own box varies around the median)


def test_predict_and_evaluate_give_a_photo_the_same_probabilities(tmp_path, monkeypatch):
    """`predict` on a photo and `evaluate` of the same model on a folder holding it find the
    same face, cut it the same way and score it alike."""
    import fer_bench.apps.predict as predict_module
    import fer_bench.face.stage as stage_module
    from fer_bench.apps.evaluate import evaluation_job
    from fer_bench.apps.predict import predict_image
    from fer_bench.apps.train_model import train_model
    from fer_bench.harness.execute import predictions
    from fer_bench.harness.prepare import prepare_evaluation
    from fer_bench.models import load_model, save_model

    for module in (detect_module, stage_module, predict_module):
        monkeypatch.setattr(module, "detect_faces", fake_cascade)
    model = load_model(save_model(
        train_model("pca-logreg", "synthetic", dataset_options={"n_per_class": 12}),
        tmp_path / "m.ferb"))
    frames = make_frames(tmp_path / "frames", n=2)
    job = evaluation_job(str(model.path), frames)
    d = prepare_evaluation(job, model.classes, None)
    _, scores = predictions(model.estimator, model.classes, d.X_test, d.classes)
    cols = [model.classes.index(c) for c in d.classes]
    for path, row in zip(d.test_paths, scores):
        [found] = predict_image(model, cv2.imread(str(path))).faces
        proba = np.array([found.probabilities[c] for c in model.classes])
        assert np.allclose(proba[cols], row, atol=1e-6)
