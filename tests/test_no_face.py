"""Test images where detection found no face: counted in every record, listed in the per-run
report and the cross-dataset table, and scored as errors with ``--face no_face=wrong``.

Detection is faked (an image "has a face" when its top-left corner is white), so the tests are
fast and decide exactly which images have none.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fer_bench.face.stage as stage_module
from fakes import register_pipeline, write_image
from fer_bench.errors import FerBenchError
from fer_bench.face.stage import FaceStage, output_params
from fer_bench.harness.execute import count_no_face_wrong, run_job, tta_accuracies
from fer_bench.harness.jobs import expand_jobs, resolve_selection
from fer_bench.harness.params import face_params
from fer_bench.metrics import classification_metrics
from fer_bench.reports.aggregate import group
from fer_bench.reports.classification_report import render_classification_report
from fer_bench.reports.cross_dataset_page import render_cross

FIXTURE = Path(__file__).parent / "fixtures" / "records.jsonl"
CLASSES = ("angry", "happy", "sad")  # view order of the shared classes
SYNTHETIC = {"synthetic": {"n_per_class": 6}}


def fake_detect(gray, min_size=24, **_):
    """A face box where the image's top-left corner is white, none elsewhere."""
    if gray[0, 0] > 128:
        return np.array([[20, 20, 60, 60]], np.int64)
    return np.zeros((0, 4), np.int64)


@pytest.fixture
def uncropped(tmp_path, monkeypatch) -> tuple[Path, list[str]]:
    """``folder:`` test set of 100 x 100 frames (detection runs on them): per class 4 images,
    2 with a face and 2 without. Returns the folder and the no-face paths (relative)."""
    monkeypatch.setattr(stage_module, "detect_faces", fake_detect)
    from fer_bench.harness import job_data as jobdata

    jobdata.clear_caches()
    rng = np.random.default_rng(0)
    root, no_face = tmp_path / "frames", []
    for c in CLASSES:
        for k in range(4):
            image = rng.integers(0, 256, (100, 100), dtype=np.uint8)
            has_face = k % 2 == 0
            image[:4, :4] = 255 if has_face else 0
            write_image(root / c / f"{c}{k}.png", image)
            if not has_face:
                no_face.append(f"{c}/{c}{k}.png")
    return root, no_face


def run(root: Path, face: dict | None = None) -> dict:
    name = f"folder:{root}"
    sel = resolve_selection(pipelines="constant", protocols=f"cross:synthetic->{name}")
    [job] = expand_jobs(sel, [0], face=face, dataset_options=SYNTHETIC)
    record = run_job(job, command=["test"])
    assert record["status"] == "ok", record.get("traceback")
    return json.loads(json.dumps(record, default=str))  # as the store keeps it


def test_records_count_and_list_the_test_images_without_a_face(uncropped, monkeypatch):
    register_pipeline(monkeypatch, "constant", "fakes:make_constant")
    root, no_face = uncropped
    record = run(root)
    fd = record["face_detection"]
    assert record["classes"] == list(CLASSES) and record["detection_rate"] == 0.5
    assert fd == {"test_images": 12, "attempted": 12, "detected": 6, "no_face": 6,
                  "no_face_paths": sorted(no_face), "no_face_correct": 2, "scored_as": "crop"}
    assert "no_face" not in record["face"]  # the default stays out of the config

    report = render_classification_report(group([record])[0])
    section = report[report.index("## Face detection"):report.index("## Confusion matrix")]
    assert "Detection ran on 12 of the 12 test images and found a face in 6 (50.0 %)" in section
    assert "no_face=wrong" in section and f"relative to `{root}`" in section
    for rel in no_face:
        assert f"- `{rel}`" in section
    assert "50.0 (6 without a face)" in report  # the runs table
    cross = render_cross([record])
    assert f"Test faces found (%): synthetic → folder:{root} 50.0 (6 without a face)." in cross
    assert "test faces found: 50.0 (6 without a face)" in cross


def test_no_face_wrong_lowers_accuracy_by_exactly_the_no_face_images_that_were_right(
        uncropped, monkeypatch):
    register_pipeline(monkeypatch, "constant", "fakes:make_constant")
    root, no_face = uncropped
    crop, wrong = run(root), run(root, {"no_face": "wrong"})
    assert crop["config_hash"] != wrong["config_hash"] and wrong["face"]["no_face"] == "wrong"
    # the constant classifier is right on the 4 angry images, 2 of them without a face
    right_no_face = sum(rel.startswith("angry/") for rel in no_face)
    assert crop["face_detection"]["no_face_correct"] == right_no_face == 2
    assert crop["metrics"]["accuracy"] == pytest.approx(4 / 12)
    assert wrong["metrics"]["accuracy"] == pytest.approx((4 - right_no_face) / 12)
    assert wrong["metrics"]["accuracy_on_crops"] == crop["metrics"]["accuracy"]
    # No prediction is invented: the confusion matrix is the model's own in both records.
    assert wrong["metrics"]["confusion"] == crop["metrics"]["confusion"]
    assert wrong["metrics"]["per_class"] == crop["metrics"]["per_class"]
    assert wrong["metrics"]["top2_accuracy"] < crop["metrics"]["top2_accuracy"]
    report = render_classification_report(group([wrong])[0])
    assert "counted as errors (`no_face=wrong`)" in report
    assert "right 2 time(s), so accuracy is 16.7 points below" in report
    both = group([crop, wrong])
    assert len(both) == 2 and any("no_face=wrong" in c.row_label for c in both)


def test_precropped_test_sets_say_no_detection_ran():
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    cell = next(c for c in group(records) if c.protocol == "synthetic-holdout")
    report = render_classification_report(cell)
    section = report[report.index("## Face detection"):report.index("## Confusion matrix")]
    assert "No detection ran on the test images: they are pre-cropped faces" in section
    assert "0.0" not in section and "pre-cropped" in report.split("## Runs")[1]
    cross = render_cross(records)
    b = "folder:/tmp/fer-bench-fixture/faces-b"
    line = f"Test faces found (%): synthetic → {b} pre-cropped; {b} → synthetic pre-cropped."
    assert line in cross


def test_no_face_wrong_rescores_accuracy_and_top2_only():
    y = np.array([0, 1, 2, 0, 1])
    pred = np.array([0, 1, 0, 1, 1])
    scores = np.array([[.7, .2, .1], [.1, .6, .3], [.5, .1, .4], [.3, .6, .1], [.2, .5, .3]])
    no_face = np.array([True, True, True, False, False])
    before = classification_metrics(y, pred, ["a", "b", "c"], scores, n_boot=10)
    after = count_no_face_wrong(before, y, pred, scores, no_face, seed=0)
    assert before["accuracy"] - after["accuracy"] == pytest.approx(2 / 5)
    assert after["accuracy"] == pytest.approx(1 / 5) and after["no_face_wrong"] == 3
    assert after["hamming_loss"] == pytest.approx(4 / 5)
    assert after["top2_accuracy"] == pytest.approx(2 / 5)  # no-face images miss in top-2 too
    lo, hi = after["accuracy_ci95"]
    assert lo <= after["accuracy"] <= hi
    for key in ("confusion", "per_class", "balanced_accuracy", "macro_f1"):
        assert after[key] == before[key]  # the model's predictions, not invented ones
    assert before["accuracy"] == after["accuracy_on_crops"] and "accuracy_on_crops" not in before
    assert count_no_face_wrong(before, y, pred, scores, np.zeros(5, bool), 0) is before


def test_tta_accuracies_count_no_face_images_wrong():
    class TTA:
        def get_params(self, deep=False):
            return {"tta": None}

        def predict(self, X, tta=None):
            return np.zeros(len(X), int)

    X, y = np.zeros((4, 48, 48), np.uint8), np.array([0, 0, 1, 0])
    wrong = np.array([True, False, False, False])
    assert tta_accuracies(TTA(), X, y, np.zeros(4, int), wrong=wrong) == {"none": 0.5,
                                                                           "flip": 0.5}


def test_no_face_is_a_scoring_parameter_that_keeps_hashes_and_face_caches():
    assert face_params({}) == {"equalize": None, "margin": 0.2, "mode": "auto", "size": 48}
    assert face_params({"no_face": "crop"}) == face_params({})
    assert face_params({"no_face": "wrong"}) == {**face_params({}), "no_face": "wrong"}
    with pytest.raises(FerBenchError, match="no_face"):
        face_params({"no_face": "skip"})
    assert output_params(FaceStage(no_face="wrong")) == output_params(FaceStage())
    assert "no_face" not in output_params(FaceStage())


def test_config_hash_of_a_recorded_job_is_unchanged():
    """The fixture's first record (pca-logreg, synthetic-holdout, seed 0) was written before
    ``no_face`` existed: the same job still hashes to it, so ``--resume`` skips it."""
    first = json.loads(FIXTURE.read_text().splitlines()[0])
    sel = resolve_selection(pipelines="pca-logreg", protocols="synthetic-holdout")
    [job] = expand_jobs(sel, [0], dataset_options={"synthetic": {"n_per_class": 40}})
    assert job.config_hash == first["config_hash"]
    [wrong] = expand_jobs(sel, [0], face={"no_face": "wrong"},
                          dataset_options={"synthetic": {"n_per_class": 40}})
    assert wrong.config_hash != first["config_hash"]
