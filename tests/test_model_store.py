"""Train once, evaluate anywhere: the trained-model store, cross-dataset scoring on the shared
classes, and ``evaluate`` / ``models`` sharing the harness's code path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from fakes import face, write_image
from fer_bench.cli.main import main
from fer_bench.harness.execute import predictions
from fer_bench.harness.fit import build_estimator
from fer_bench.harness.jobs import expand_jobs, resolve_selection
from fer_bench.harness.job_data import clear_caches, load
from fer_bench.harness.model_store import ModelStore, data_digest, model_key, model_source
from fer_bench.harness.runner import execute_jobs, model_root
from fer_bench.modelfile import file_digest
from fer_bench.results.store import load_records

SMALL = ["--dataset-option", "synthetic.n_per_class=12"]
OPTIONS = {"synthetic": {"n_per_class": 12}}
#: The folder tree's classes: four of the synthetic default's seven.
TREE = ("angry", "happy", "sad", "neutral")


def make_tree(root: Path, n: int = 12, classes=TREE, seed: int = 0) -> str:
    """A ``folder:`` dataset of ``n`` 48 x 48 faces per class (no subjects); returns its name."""
    rng = np.random.default_rng(seed)
    for c in classes:
        for k in range(n):
            write_image(root / c / f"{c}{k}.png", face(rng))
    return f"folder:{root}"


def jobs_for(protocols: str, pipelines: str = "pca-logreg", options=OPTIONS):
    sel = resolve_selection(pipelines=pipelines, protocols=protocols)
    return expand_jobs(sel, [0], dataset_options=options)


def run_records(jobs, out: Path, **kw) -> list[dict]:
    summary = execute_jobs(jobs, out, progress=False, **kw)
    assert not summary.failures, [r.get("error") for r in summary.failures]
    return summary.records


def test_cross_jobs_score_the_model_of_the_training_datasets_own_protocol(tmp_path):
    tree = make_tree(tmp_path / "tree")
    jobs = jobs_for(f"synthetic-holdout,cross:synthetic->{tree}")
    own, cross = run_records(jobs, tmp_path / "out")
    assert own["model"]["reused"] is False and cross["model"]["reused"] is True
    assert cross["model"]["key"] == own["model"]["key"]
    assert cross["model"]["sha256"] == own["model"]["sha256"] == file_digest(own["model"]["file"])
    assert cross["model"]["source"] == "synthetic-holdout"
    assert cross["model"]["trained_by"] == own["config_hash"] == jobs[0].config_hash
    # the model's own figures: its training set and fit time, not a second, cross-only fit
    assert (cross["n_train"], cross["n_val"]) == (own["n_train"], own["n_val"])
    assert cross["timing"]["fit_s"] == own["timing"]["fit_s"]
    assert "val_metrics" in own and "val_metrics" not in cross
    # scored on the classes both share, the synthetic default's other three dropped
    assert cross["classes"] == list(TREE[:3]) + ["neutral"]
    assert sorted(cross["dropped_classes"]) == ["disgust", "fear", "surprise"]
    assert cross["n_test"] == 4 * 12
    assert ModelStore(model_root(tmp_path / "out")).keys() == [own["model"]["key"]]


def test_a_dataset_without_a_published_split_trains_once_for_every_test_set(tmp_path):
    a = make_tree(tmp_path / "a", n=20)
    b = make_tree(tmp_path / "b", classes=("happy", "sad"), seed=1)
    jobs = jobs_for(f"cross:{a}->synthetic,cross:{a}->{b}")
    to_synthetic, to_b = run_records(jobs, tmp_path / "out")
    assert to_synthetic["model"]["key"] == to_b["model"]["key"]
    assert [to_synthetic["model"]["reused"], to_b["model"]["reused"]] == [False, True]
    assert to_b["model"]["source"] == f"{a} (all of it, a seeded tenth held out for selection)"
    assert to_b["classes"] == ["happy", "sad"] and to_b["dropped_classes"] == ["angry", "neutral"]
    # all of A trains (a tenth held out for selection), whatever the test set
    assert to_synthetic["n_train"] + to_synthetic["n_val"] == 4 * 20
    # the key is what decides the weights: same for both, another for another seed
    data = data_digest(load(a, {}, None))
    keys = {model_key(model_source(j), build_estimator(model_source(j))[1], data) for j in jobs}
    assert keys == {to_b["model"]["key"]}
    [seed1] = expand_jobs(resolve_selection(pipelines="pca-logreg", protocols=f"cross:{a}->{b}"),
                          [1])
    assert model_key(seed1, build_estimator(seed1)[1], data) not in keys


class Fixed(ClassifierMixin, BaseEstimator):
    """Scores given per image: column k of ``SCORES`` is class k."""

    SCORES = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.45, 0.35]])

    def predict(self, X):
        return self.SCORES.argmax(axis=1)[:len(X)]

    def predict_proba(self, X):
        return self.SCORES[:len(X)]


def test_predictions_take_the_argmax_over_the_scored_classes_only():
    est = Fixed()
    est.classes_ = np.arange(3)
    X = np.zeros((3, 48, 48), np.uint8)
    labels, scores = predictions(est, ["angry", "happy", "sad"], X, ["angry", "happy", "sad"])
    assert labels.tolist() == [0, 2, 1] and scores.shape == (3, 3)
    labels, scores = predictions(est, ["angry", "happy", "sad"], X, ["angry", "sad"])
    assert labels.tolist() == [0, 1, 1]  # the third image's best shared guess is sad
    assert np.array_equal(scores, Fixed.SCORES[:, [0, 2]])
    with pytest.raises(Exception, match="cannot score class"):
        predictions(est, ["angry", "happy", "sad"], X, ["angry", "fear"])


def test_evaluate_scores_a_stored_model_exactly_as_the_cross_job_did(tmp_path, capsys):
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "out"
    _, cross = run_records(jobs_for(f"synthetic-holdout,cross:synthetic->{tree}"), out)
    path = cross["model"]["file"]
    ev = tmp_path / "ev"
    assert main(["evaluate", path, "--dataset", tree, "--out", str(ev), "--no-report"]) == 0
    assert f"on cross:synthetic->{tree}: accuracy" in capsys.readouterr().out
    [record] = load_records(ev / "records.jsonl")
    assert record["protocol"] == f"cross:synthetic->{tree}" and record["status"] == "ok"
    assert record["train_dataset"] == "synthetic" and record["test_dataset"] == tree
    assert record["model"]["sha256"] == cross["model"]["sha256"]
    for key in ("accuracy", "macro_f1", "confusion", "top2_accuracy"):
        assert record["metrics"][key] == cross["metrics"][key]
    assert record["classes"] == cross["classes"]
    # the same evaluation again needs --resume or --force; --resume does nothing
    assert main(["evaluate", path, "--dataset", tree, "--out", str(ev), "--no-report"]) == 2
    assert main(["evaluate", path, "--dataset", tree, "--out", str(ev), "--no-report",
                 "--resume"]) == 0
    assert len(load_records(ev / "records.jsonl")) == 1
    # the framing belongs to the model: only no_face may be chosen
    assert main(["evaluate", path, "--dataset", tree, "--out", str(ev),
                 "--face", "margin=0.3"]) == 2
    assert "the model fixes its face stage" in capsys.readouterr().err


def test_models_add_puts_a_trained_file_where_run_finds_it(tmp_path, capsys):
    trained = tmp_path / "m.ferb"
    assert main(["train", "pca-logreg", "--dataset", "synthetic", "--dataset-option",
                 "n_per_class=12", "--out",
                 str(trained)]) == 0
    out = tmp_path / "out"
    assert main(["models", "add", str(trained), "--out", str(out)]) == 0
    assert main(["models", "list", "--out", str(out)]) == 0
    listed = capsys.readouterr().out
    assert "pca-logreg on synthetic-holdout fold official seed 0" in listed
    assert "1 model(s)" in listed
    [record] = run_records(jobs_for("synthetic-holdout"), out)
    assert record["model"]["reused"] is True  # the file train wrote, not a second fit
    # and train's accuracy is the table's: both score the same way
    provenance = json.loads(json.dumps(_provenance(trained)))
    assert provenance["test_accuracy"] == record["metrics"]["accuracy"]


def _provenance(path: Path) -> dict:
    from fer_bench.modelfile import read_header

    return read_header(path)["provenance"]


def test_a_damaged_stored_model_is_fitted_again(tmp_path, capsys):
    [first] = run_records(jobs_for("synthetic-holdout"), tmp_path / "one")
    other = model_root(tmp_path / "two") / Path(first["model"]["file"]).name
    other.parent.mkdir(parents=True)
    other.write_bytes(b"PK\x03\x04 not a model any more")
    [again] = run_records(jobs_for("synthetic-holdout"), tmp_path / "two")
    assert "discarding a damaged stored model" in capsys.readouterr().err
    assert again["model"]["reused"] is False and again["model"]["file"] == str(other)
    assert again["metrics"]["accuracy"] == first["metrics"]["accuracy"]
    assert file_digest(other) == again["model"]["sha256"]  # (its provenance has a new date)


def test_damaged_entries_are_discarded_with_one_line(tmp_path, capsys):
    store = ModelStore(tmp_path)
    store.path("k").parent.mkdir(parents=True, exist_ok=True)
    store.path("k").write_bytes(b"garbage")
    assert store.get("k") is None and not store.path("k").exists()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "discarding a damaged stored model" in err


def test_force_fits_each_model_once_and_later_jobs_reuse_it(tmp_path):
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "out"
    jobs = jobs_for(f"synthetic-holdout,cross:synthetic->{tree}")
    run_records(jobs, out)
    own, cross = run_records(jobs, out, force=True)
    assert [own["model"]["reused"], cross["model"]["reused"]] == [False, True]
    assert cross["model"]["sha256"] == file_digest(own["model"]["file"])


def test_a_model_is_reused_only_for_the_same_data(tmp_path):
    """Deleting an image (as the leak guard tells a user to) or relabelling one is new data:
    the stored model, which learnt from the old, is not scored again."""
    a = make_tree(tmp_path / "a", n=20)
    b = make_tree(tmp_path / "b", classes=("happy", "sad"), seed=1)
    jobs = jobs_for(f"cross:{a}->{b}")
    [first] = run_records(jobs, tmp_path / "out")
    (tmp_path / "a" / "angry" / "angry0.png").unlink()
    clear_caches()
    [again] = run_records(jobs_for(f"cross:{a}->{b}"), tmp_path / "out", force=True)
    assert again["model"]["key"] != first["model"]["key"]
    assert again["model"]["reused"] is False and again["n_train"] + again["n_val"] == 79


def test_a_model_that_cannot_be_stored_is_still_scored(tmp_path, monkeypatch):
    from fakes import register_pipeline

    register_pipeline(monkeypatch, "constant", "fakes:make_constant")  # a test-only type
    [record] = run_records(jobs_for("synthetic-holdout", "constant"), tmp_path / "out")
    assert record["status"] == "ok" and "metrics" in record
    assert "Constant" in record["model"]["error"] and "file" not in record["model"]
    assert ModelStore(model_root(tmp_path / "out")).keys() == []


def test_the_lock_is_a_convenience(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fcntl", None)  # no fcntl (Windows): no lock, no error
    with ModelStore(tmp_path / "a").lock("k"):
        pass
    monkeypatch.undo()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with ModelStore(blocked / "models").lock("k"):  # cannot be created: go on unlocked
        pass


def test_evaluate_refuses_what_would_score_training_images_or_other_outputs(tmp_path, capsys):
    trained = tmp_path / "m.ferb"
    assert main(["train", "pca-logreg", "--dataset", "synthetic", "--dataset-option",
                 "n_per_class=12", "--out", str(trained)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(trained), "--dataset", "synthetic"]) == 2
    assert "its own training images" in capsys.readouterr().err
    tree = make_tree(tmp_path / "tree")
    assert main(["evaluate", str(trained), "--dataset", tree, "--view", "valence3"]) == 2
    assert "the model's outputs are 7class classes" in capsys.readouterr().err


def test_a_pretrained_part_may_not_be_scored_on_its_training_images():
    from fer_bench.errors import ProtocolError
    from fer_bench.harness.fit import check_pretrained
    from fer_bench.harness.jobs import Job

    cross = Job("cnn-svm", "cross:ckplus->fer2013", ("ckplus", "fer2013"), "all", 0, "7class")
    with pytest.raises(ProtocolError, match="trained on fer2013 \\(fer2013-official\\)"):
        check_pretrained(cross)  # the bundled CNN learnt from FER2013 Training
    check_pretrained(Job("cnn-svm", "fer2013-official", ("fer2013",), "official", 0, "7class"))
    check_pretrained(Job("cnn-svm", "cross:fer2013->ckplus", ("fer2013", "ckplus"), "all", 0,
                         "7class"))
    tuned = Job("mini-xception", "cross:ckplus->fer2013", ("ckplus", "fer2013"), "all", 0,
                "7class", params={"init_from": "fer_bench/models/default.ferb"})
    with pytest.raises(ProtocolError, match="default.ferb"):
        check_pretrained(tuned)


def test_cnn_svm_is_stored_and_refuses_another_cnn(tmp_path):
    """The hybrid's file names its CNN by path and digest: it loads and predicts like any model
    file, and refuses to run on a CNN other than the one it was fitted on."""
    from fer_bench.errors import ModelFileError
    from fer_bench.models import load_model

    [record] = run_records(jobs_for("synthetic-holdout", "cnn-svm"), tmp_path / "out")
    assert "error" not in record["model"], record["model"].get("error")
    model = load_model(record["model"]["file"])
    faces = np.zeros((3, 48, 48), np.uint8)
    assert model.predict_proba(faces).shape == (3, 7)
    features = model.estimator.steps[0][1]
    features.cnn_sha256_ = "0" * 64
    with pytest.raises(ModelFileError, match="not the CNN this cnn-svm was fitted with"):
        model.predict_proba(faces)
