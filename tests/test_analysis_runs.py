"""Runs that feed the analysis: per-image predictions, ``--rescore`` and ``--corrupt``."""
from __future__ import annotations

import json

import numpy as np

from fer_bench.cli.main import main
from fer_bench.results.predictions import load_predictions
from fer_bench.results.store import load_records

SMALL = ["--dataset-option", "synthetic.n_per_class=30", "--no-progress", "--no-report",
         "--suite", "smoke"]


def run(out, *argv: str) -> int:
    return main(["run", "--out", str(out), *SMALL, *argv])


def test_a_run_stores_per_image_predictions_matching_its_metrics(tmp_path):
    assert run(tmp_path) == 0
    (record,) = load_records(tmp_path)
    p = load_predictions(tmp_path, record)
    assert len(p.y_true) == record["n_test"] and p.scores.shape == (record["n_test"], 7)
    cm = np.zeros((7, 7), int)
    np.add.at(cm, (p.y_true, p.y_pred), 1)
    assert cm.tolist() == record["metrics"]["confusion"]["matrix"]
    assert p.scores_kind == "proba" and len(set(p.ids.tolist())) == len(p.ids)
    assert p.y_val is not None and len(p.y_val) == record["n_val"]  # selected there
    assert record["timing"]["latency_ms_batch1"] > 0 and record["model"]["bytes"] > 0


def test_rescore_reruns_only_records_without_predictions_from_the_stored_model(tmp_path, capsys):
    assert run(tmp_path) == 0
    path = tmp_path / "records.jsonl"
    old = json.loads(path.read_text())
    del old["predictions"]  # as written before records kept them
    path.write_text(json.dumps(old) + "\n")
    assert run(tmp_path, "--resume") == 0  # --resume keeps it as it is
    assert len(load_records(tmp_path, latest=False)) == 1
    assert run(tmp_path, "--rescore") == 0
    assert "scored the stored model" in capsys.readouterr().err
    new = load_records(tmp_path)[-1]
    assert new["predictions"] and new["metrics"] == old["metrics"]  # same model, same figures
    assert run(tmp_path, "--rescore") == 0  # nothing left to do
    assert len(load_records(tmp_path, latest=False)) == 2


def test_corrupt_scores_the_clean_jobs_model_on_each_severity(tmp_path):
    assert run(tmp_path, "--corrupt", "blur,occlude_eyes") == 0
    records = load_records(tmp_path)
    clean = [r for r in records if not r.get("corruption")]
    bad = [r for r in records if r.get("corruption")]
    assert len(clean) == 1 and len(bad) == 10
    assert {(r["corruption"]["name"], r["corruption"]["severity"]) for r in bad} == {
        (n, s) for n in ("blur", "occlude_eyes") for s in range(1, 6)}
    assert all(r["model"]["reused"] and r["model"]["key"] == clean[0]["model"]["key"]
               for r in bad)
    assert len({r["config_hash"] for r in records}) == 11
    worst = next(r for r in bad if (r["corruption"]["name"], r["corruption"]["severity"])
                 == ("occlude_eyes", 5))
    assert worst["corruption"]["version"] >= 1  # changed levels make new jobs
    assert worst["metrics"]["accuracy"] < clean[0]["metrics"]["accuracy"]
    assert "val_metrics" not in worst  # the validation part is the clean job's business


def test_corrupt_names_are_checked(tmp_path, capsys):
    assert run(tmp_path, "--corrupt", "fog") != 0
    err = capsys.readouterr().err
    assert "fog" in err and "gaussian_noise" in err


def test_tables_leave_corrupted_records_to_the_analysis(tmp_path):
    assert run(tmp_path, "--corrupt", "blur") == 0
    from fer_bench.reports import write_reports

    write_reports(tmp_path, plots=False)
    methods = (tmp_path / "methods.md").read_text()
    assert "blur" not in methods
    analysis = (tmp_path / "analysis.md").read_text()
    assert "| pca-logreg" in analysis.split("## Robustness under corruption")[1]


def test_rescore_also_reruns_a_record_whose_predictions_file_is_gone(tmp_path):
    assert run(tmp_path) == 0
    (record,) = load_records(tmp_path)
    (tmp_path / record["predictions"]["file"]).unlink()
    assert run(tmp_path, "--rescore") == 0
    assert len(load_records(tmp_path, latest=False)) == 2
    assert load_predictions(tmp_path, load_records(tmp_path)[-1]).y_true.size


def test_svm_scores_are_shared_only_inside_scoring_and_never_across_fits():
    from fer_bench.pipelines.base import shared_scores
    from fer_bench.pipelines.features.softmax import SoftmaxSVC

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    svm = SoftmaxSVC().fit(X, y)
    with shared_scores():
        first = svm.decision_function(X)
        svm.fit(X, y[::-1])  # refitted inside the block: its old scores must not come back
        assert not np.allclose(svm.decision_function(X), first)
    svm.fit(X, y)
    assert np.allclose(svm.decision_function(X), first)


def test_rescore_keeps_the_training_facts_a_model_file_lacks():
    from fer_bench.harness.runner import keep_fit_facts

    confusion = {"matrix": [[1]], "classes": ["a"]}
    before = {"config_hash": "h", "finished_at": "t0", "history": [{"epoch": 1}],
              "timing": {"fit_s": 6000.0}, "metrics": {"confusion": confusion}}
    new = {"timing": {"fit_s": 5.0, "predict_s": 1.0}, "metrics": {"confusion": confusion}}
    keep_fit_facts(new, [before, dict(before, history=None)])
    assert new["history"] == before["history"] and new["timing"] == {"fit_s": 6000.0,
                                                                      "predict_s": 1.0}
    other = {"timing": {"fit_s": 5.0}, "metrics": {"confusion": {"matrix": [[2]]}}}
    keep_fit_facts(other, [before])  # another model: its own facts stand
    assert "history" not in other and other["timing"]["fit_s"] == 5.0
