"""The degeneracy guard: a run that collapses onto one class, scores no better than always
answering the largest class, or never finds a sizeable class is flagged, in its record and in
every report."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from fakes import register_pipeline
from fer_bench.cli.main import main
from fer_bench.metrics import classification_metrics, confusion_matrix, degeneracy
from fer_bench.reports import write_reports
from fer_bench.results.store import load_records

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def make_constant(random_state: int = 0) -> DummyClassifier:
    """A pipeline that answers the training set's most frequent class for every face."""
    return DummyClassifier(strategy="most_frequent", random_state=random_state)


def labels(supports: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(supports)), supports)


def test_a_constant_classifier_is_flagged_with_every_reason():
    supports = [30, 25, 20, 19, 40, 10, 50]  # happy 19 and surprise 10: too few to count
    y_true = labels(supports)
    y_pred = np.full_like(y_true, CLASSES.index("sad"))
    m = classification_metrics(y_true, y_pred, CLASSES, n_boot=10)
    assert m["degenerate"] is True
    assert m["degenerate_reasons"] == [
        "predicts sad for 100.0 % of the 194 test images",
        "accuracy 20.6 % is at or below the majority-class rate 25.8 % (neutral)",
        "recall 0 on angry (30 test images)",
        "recall 0 on disgust (25 test images)",
        "recall 0 on fear (20 test images)",
        "recall 0 on neutral (50 test images)",
    ]
    assert m["degenerate_reasons"] == degeneracy(m["confusion"]["matrix"], CLASSES)


def test_a_good_classifier_is_not_flagged():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 7, 700)
    y_pred = np.where(rng.random(700) < 0.7, y_true, rng.integers(0, 7, 700))
    m = classification_metrics(y_true, y_pred, CLASSES, n_boot=10)
    assert m["degenerate"] is False and m["degenerate_reasons"] == []


def majority_case(hits: int) -> np.ndarray:
    """60 images (30 / 20 / 10), predictions spread over the classes, ``hits`` of them right."""
    cm = np.zeros((3, 3), dtype=int)
    cm[0, 0], cm[0, 1] = 10, 20  # the majority class: 30 of 60 images
    cm[1, 1], cm[1, 2] = 10, 10
    cm[2, 2], cm[2, 0] = 10, 0
    extra = hits - np.trace(cm)
    cm[0, 0] += extra
    cm[0, 1] -= extra
    assert np.trace(cm) == hits and cm.sum() == 60
    return cm


def test_accuracy_at_the_majority_rate_is_flagged_and_one_image_above_is_not():
    at = degeneracy(majority_case(30), ["a", "b", "c"])  # 30 / 60 = the 50 % majority rate
    assert at == ["accuracy 50.0 % is at or below the majority-class rate 50.0 % (a)"]
    assert degeneracy(majority_case(29), ["a", "b", "c"]) == [
        "accuracy 48.3 % is at or below the majority-class rate 50.0 % (a)"]
    assert degeneracy(majority_case(31), ["a", "b", "c"]) == []


def test_a_balanced_test_set_flags_chance_accuracy():
    # 7 x 10 images, one right per class: 10 % < the 14.3 % of always answering one class
    cm = np.eye(7, dtype=int)
    cm[np.arange(7), (np.arange(7) + 1) % 7] = 9
    assert cm.sum() == 70 and np.trace(cm) == 7
    assert degeneracy(cm, CLASSES) == [
        "accuracy 10.0 % is at or below the majority-class rate 14.3 % (angry)"]


def test_a_one_class_test_set_cannot_tell_a_model_from_a_constant():
    cm = np.array([[0, 0], [0, 12]])
    assert degeneracy(cm, ["a", "b"]) == [
        "accuracy 100.0 % is at or below the majority-class rate 100.0 % (b)",
    ]


def test_a_good_model_on_a_skewed_test_set_is_not_flagged_for_its_share():
    """92 % of the images are neutral: predicting neutral 92 % of the time is right, not a
    collapse; predicting it for 95 % while beating the majority rate is not flagged either."""
    assert degeneracy([[92, 0], [0, 8]], ["neutral", "happy"]) == []
    assert degeneracy([[92, 0], [3, 5]], ["neutral", "happy"]) == []
    # 85 % neutral, predicted for 95 %: the model has all but collapsed onto it
    assert degeneracy([[85, 0], [10, 5]], ["neutral", "happy"])[0].startswith(
        "predicts neutral for 95.0 %")


def test_predicted_share_boundary_is_inclusive():
    # 70 images, two classes of 35; the model says "a" for 63 (exactly 90 %) or 62 of them
    def case(n_a: int) -> np.ndarray:
        return np.array([[35, 0], [n_a - 35, 70 - n_a]])

    assert degeneracy(case(63), ["a", "b"])[0] == "predicts a for 90.0 % of the 70 test images"
    assert not any(r.startswith("predicts") for r in degeneracy(case(62), ["a", "b"]))


@pytest.mark.parametrize("support, flagged", [(19, False), (20, True)])
def test_recall_zero_counts_from_twenty_test_images(support, flagged):
    # a good classifier everywhere else: 100 right on each of two classes, ``support`` missed
    cm = np.zeros((3, 3), dtype=int)
    cm[0, 0] = cm[1, 1] = 100
    cm[2, 0] = support
    reasons = degeneracy(cm, ["a", "b", "rare"])
    assert reasons == ([f"recall 0 on rare ({support} test images)"] if flagged else [])


def test_nothing_to_judge_and_bad_shapes():
    assert degeneracy(np.zeros((3, 3), dtype=int), ["a", "b", "c"]) == []
    with pytest.raises(ValueError, match="shape"):
        degeneracy(np.zeros((3, 3), dtype=int), ["a", "b"])


def test_confusion_of_a_constant_classifier_from_labels():
    y_true = labels([25, 25, 25])
    cm = confusion_matrix(y_true, np.zeros_like(y_true), 3)
    assert degeneracy(cm, ["a", "b", "c"]) == [
        "predicts a for 100.0 % of the 75 test images",
        "accuracy 33.3 % is at or below the majority-class rate 33.3 % (a)",
        "recall 0 on b (25 test images)",
        "recall 0 on c (25 test images)",
    ]


# --- through the harness and the reports ---------------------------------------------------

def test_a_constant_pipeline_run_is_flagged_in_its_record_and_every_table(tmp_path, monkeypatch):
    register_pipeline(monkeypatch, "constant", f"{__name__}:make_constant")
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--pipelines", "constant,pca-logreg",
                 "--datasets", "synthetic", "--dataset-option", "synthetic.n_per_class=30",
                 "--no-progress", "--no-report"]) == 0
    records = {r["pipeline"]: r for r in load_records(out)}
    m = records["constant"]["metrics"]
    assert m["degenerate"] is True
    assert re.fullmatch(r"predicts \w+ for 100\.0 % of the \d+ test images",
                        m["degenerate_reasons"][0])
    assert "at or below the majority-class rate" in m["degenerate_reasons"][1]
    assert records["pca-logreg"]["metrics"]["degenerate"] is False
    write_reports(out, plots=False)

    def rows(text: str, pipeline: str) -> list[str]:
        return [line for line in text.splitlines()
                if line.startswith((f"| {pipeline} ", f"| [{pipeline}]"))]

    readme, methods = (out / "README.md").read_text(), (out / "methods.md").read_text()
    for text, n_tables in ((readme, 1), (methods, 2)):  # methods: the matrix and the details
        assert len(rows(text, "constant")) == n_tables
        assert all("⚠" in row for row in rows(text, "constant"))
        assert not any("⚠" in row for row in rows(text, "pca-logreg"))
        assert text.count("⚠ degenerate: ") == n_tables
    [report] = out.glob("*/constant*.md")  # the protocol's folder of reports
    text = report.read_text()
    assert "## Degenerate runs" in text and m["degenerate_reasons"][0] in text

    # a record written before the flag existed is judged by the reports all the same
    before = {p: p.read_text() for p in out.rglob("*.md")}
    lines = (out / "records.jsonl").read_text().splitlines()
    old = []
    for line in lines:
        r = json.loads(line)
        r["metrics"].pop("degenerate")
        r["metrics"].pop("degenerate_reasons")
        old.append(json.dumps(r))
    (out / "records.jsonl").write_text("\n".join(old) + "\n")
    write_reports(out, plots=False)
    assert {p: p.read_text() for p in out.rglob("*.md")} == before
