"""The harness: selections, job hashes, the result store, failures, resume and both backends."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from fakes import register_pipeline
from fer_bench.cli.main import main
from fer_bench.data.dataset import FaceDataset
from fer_bench.data.labels import CLASS_INDEX
from fer_bench.errors import FerBenchError
from fer_bench.harness import job_data as jobdata
from fer_bench.harness.execute import tta_accuracies
from fer_bench.harness.fit import starting_weights
from fer_bench.harness.prepare import stratified_subsample
from fer_bench.harness.jobs import Job, ProtocolSpec, expand_jobs, resolve_selection
from fer_bench.harness.params import (
    budget_params, parse_assignments, pipeline_params, resolve_budget,
)
from fer_bench.pipelines.baseline import make_pca_logreg
from fer_bench.registry import BUDGETS, PIPELINES
from fer_bench.results.store import ResultStore, load_records

# A small synthetic dataset (210 faces) keeps each run to about a second.
SMALL = ["--dataset-option", "synthetic.n_per_class=30", "--no-progress"]


# --- test-only pipelines (registered per test with monkeypatch) --------------------------------



#: Seeds at which ``make_interrupting`` behaves like a Ctrl-C arriving during the job.
INTERRUPT_SEEDS: set[int] = set()


def make_interrupting(random_state: int = 0):
    if random_state in INTERRUPT_SEEDS:
        raise KeyboardInterrupt
    return make_pca_logreg(n_components=20, random_state=random_state)


def run(tmp_path, *argv: str) -> int:
    return main(["run", "--out", str(tmp_path / "out"), *argv, *SMALL])


def raw_records(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]


# --- selection and jobs ------------------------------------------------------------------------

def fake_root(tmp_path, *names: str):
    root = tmp_path / "data"
    for name in names:
        (root / name).mkdir(parents=True)
    return str(root)


def test_smoke_suite_is_the_baseline_on_the_synthetic_default():
    sel = resolve_selection("smoke")
    assert sel.pipelines == ("pca-logreg",)
    assert sel.protocols == (ProtocolSpec("synthetic-holdout", ("synthetic",)),)
    assert sel.note is None


def test_suite_all_uses_every_dataset_found_and_the_cross_matrix(tmp_path):
    sel = resolve_selection("all", data_root=fake_root(tmp_path, "fer2013", "ckplus48"))
    names = [s.name for s in sel.protocols]
    assert names == ["fer2013-official", "ckplus-10fold", "cross:fer2013->ckplus",
                     "cross:ckplus->fer2013"]
    assert set(sel.pipelines) == set(PIPELINES.names())
    assert sel.note is None


def test_classical_suite_is_the_classical_family(tmp_path):
    sel = resolve_selection("classical", data_root=fake_root(tmp_path, "ckplus48"))
    assert set(sel.pipelines) == set(PIPELINES.names(family="classical"))
    assert [s.name for s in sel.protocols] == ["ckplus-10fold"]


def test_no_data_falls_back_to_synthetic_with_one_note(tmp_path, monkeypatch):
    # Only when no data root is named: ./datasets (the default) absent
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_BENCH_DATA", raising=False)
    sel = resolve_selection("all")
    assert [s.name for s in sel.protocols] == ["synthetic-holdout"]
    assert "datasets/README.md" in sel.note and "--data-root" in sel.note
    with pytest.raises(FerBenchError, match="two datasets"):
        resolve_selection("cross")


def test_synthetic_fallback_gets_its_own_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ./datasets and no data root named
    monkeypatch.delenv("FER_BENCH_DATA", raising=False)
    assert main(["run", "--suite", "all", "--pipelines", "pca-logreg", "--no-report",
                 *SMALL]) == 0
    assert "results go to results/synthetic/" in capsys.readouterr().err
    assert (tmp_path / "results" / "synthetic" / "records.jsonl").is_file()
    assert not (tmp_path / "results" / "records.jsonl").exists()


def test_datasets_get_their_own_protocols():
    sel = resolve_selection(pipelines="pca-logreg", datasets="synthetic,fer2013,folder:/x")
    assert [s.label for s in sel.protocols] == ["synthetic-holdout", "fer2013-official",
                                                "kfold(folder:/x)"]


def test_selection_errors_are_one_line():
    with pytest.raises(FerBenchError, match="say what to run"):
        resolve_selection()
    with pytest.raises(KeyError, match="did you mean"):
        resolve_selection(pipelines="pca-logreq", datasets="synthetic")
    with pytest.raises(FerBenchError, match="--datasets"):
        resolve_selection(pipelines="pca-logreg", protocols="kfold")


def test_config_hash_is_canonical_and_sensitive():
    base = dict(pipeline="pca-logreg", protocol="synthetic-holdout", datasets=("synthetic",),
                fold="official", seed=0, view="7class", params={"a": 1, "b": 2})
    job = Job(**base)
    assert Job(**{**base, "params": {"b": 2, "a": 1}}).config_hash == job.config_hash
    for change in ({"seed": 1}, {"fold": "fold1"}, {"params": {"a": 2, "b": 2}}, {"view": "6class"},
                   {"limit_train": 100}, {"face": {"mode": "skip"}},
                   {"dataset_options": {"synthetic": {"n_per_class": 5}}}):
        assert Job(**{**base, **change}).config_hash != job.config_hash, change
    # options of datasets the job does not use do not matter
    other = Job(**{**base, "dataset_options": {"fer2013": {"x": 1}}})
    assert other.config_hash == job.config_hash


def test_param_assignments_are_checked_against_the_pipelines():
    parsed = parse_assignments(["pca-logreg.C=0.5", "n_components=20", "name=x"], "--param")
    assert parsed == {"pca-logreg": {"C": 0.5}, None: {"n_components": 20, "name": "x"}}
    with pytest.raises(FerBenchError, match="no selected pipeline"):
        pipeline_params(["pca-logreg"], parsed)
    assert pipeline_params(["pca-logreg"], parse_assignments(["n_components=20"], "")) == {
        "pca-logreg": {"n_components": 20}}
    with pytest.raises(FerBenchError, match="takes C, n_components"):
        pipeline_params(["pca-logreg"], parse_assignments(["pca-logreg.gamma=1"], ""))
    with pytest.raises(FerBenchError, match="KEY=VALUE"):
        parse_assignments(["nothing"], "--param")


def test_budgets_set_cnn_epochs_by_training_dataset():
    assert budget_params("cpu", ("fer2013",), "mini-xception") == {"epochs": 5}
    # CK+ / JAFFE: the small-data recipe (lowered dense dropout, flips, cosine; AdamW for vgg-fer)
    small = budget_params("cpu", ("ckplus", "fer2013"), "vgg-fer")
    assert small["epochs"] == 6 and small["dense_dropout"] == 0 and small["tta"] is None
    assert small == budget_params("cpu-2h", ("jaffe",), "vgg-fer")
    assert budget_params("cpu", ("jaffe",), "little-vgg")["dense_dropout"] == 0.1
    assert budget_params("cpu", ("fer2013",), "hog-svm") == {}
    assert budget_params("full", ("fer2013",), "mini-xception") == {}
    assert budget_params(None, ("fer2013",), "mini-xception") == {}
    with pytest.raises(FerBenchError, match="--budget"):
        budget_params("fast", ("fer2013",), "mini-xception")


def test_resolve_budget_only_for_deep_runs(monkeypatch):
    import jax

    from fer_bench.harness import params

    # the child-process probe agrees with JAX in this process
    assert params.accelerator_present() == (jax.default_backend() != "cpu")
    monkeypatch.setattr(params, "accelerator_present", lambda: True)
    assert resolve_budget("auto", ["mini-xception", "hog-svm"]) == "full"
    assert resolve_budget("cpu", ["mini-xception"]) == "cpu"
    monkeypatch.setattr(params, "accelerator_present", lambda: False)
    assert resolve_budget("auto", ["mini-xception"]) == "cpu"
    monkeypatch.setattr(params, "accelerator_present", lambda: pytest.fail("probed"))
    assert resolve_budget("auto", ["hog-svm", "pca-logreg"]) is None  # no CNN: no probe


def test_budget_sits_between_dataset_defaults_and_params(monkeypatch):
    monkeypatch.setitem(BUDGETS, "tiny", {"synthetic": {"deep": {"epochs": 2, "batch_size": 8}}})
    sel = resolve_selection(pipelines="mini-xception,pca-logreg", datasets="synthetic")
    options = {None: {"n_per_class": 30}}
    jobs = expand_jobs(sel, dataset_options=options, budget="tiny",
                       params={"mini-xception": {"batch_size": 16}})
    by_name = {j.pipeline: j for j in jobs}
    # the registry said 20 epochs at 3e-3 with cosine decay: the budget's epochs win
    assert by_name["mini-xception"].params == {"epochs": 2, "batch_size": 16,
                                               "lr_schedule": "cosine", "learning_rate": 0.003}
    assert by_name["pca-logreg"].params == {}
    plain = expand_jobs(sel, dataset_options=options)
    assert {j.pipeline: j.params for j in plain}["mini-xception"] == {
        "epochs": 20, "lr_schedule": "cosine", "learning_rate": 0.003}
    assert {j.config_hash for j in plain} != {j.config_hash for j in jobs}


def test_stratified_subsample_keeps_proportions_and_is_seeded():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    index = np.arange(1000) + 7
    sub = stratified_subsample(index, y, 100, seed=3)
    assert len(sub) == 100 and len(np.unique(sub)) == 100
    assert np.bincount(y[sub - 7]).tolist() == [50, 30, 20]
    assert np.array_equal(sub, stratified_subsample(index, y, 100, seed=3))
    assert not np.array_equal(sub, stratified_subsample(index, y, 100, seed=4))
    tiny = stratified_subsample(index, y, 3, seed=0)
    assert sorted(np.bincount(y[tiny - 7])) == [1, 1, 1]  # every class keeps one image
    assert np.array_equal(stratified_subsample(index, y, 5000, seed=0), index)


def _ds(classes, name="d"):
    labels = np.array([CLASS_INDEX[c] for c in classes])
    n = len(labels)
    return FaceDataset(name, np.zeros((n, 4, 4), np.uint8), labels, np.array([str(i) for i in range(n)]))


def test_view_is_narrowed_to_the_classes_present():
    ck = _ds(["angry", "contempt", "happy", "happy", "surprise"], "ck")
    data = jobdata.view_data((ck,), "7class")
    assert data.view.classes == ("angry", "happy", "surprise")
    assert data.dropped == ["disgust", "fear", "sad", "neutral"]
    assert len(data.datasets[0]) == 4  # contempt has no place in 7class
    assert data.labels().tolist() == [0, 1, 1, 2]
    fer = _ds(["angry", "neutral", "happy"], "fer")
    cross = jobdata.view_data((fer, ck), "7class")
    assert cross.view.classes == ("angry", "happy")
    assert "neutral" in cross.dropped and "surprise" in cross.dropped


# --- the result store --------------------------------------------------------------------------

def test_store_appends_whole_lines_and_repairs_a_torn_tail(tmp_path):
    store = ResultStore(tmp_path)
    store.append({"config_hash": "a", "status": "ok", "x": np.float32(0.5), "y": float("nan")})
    with open(store.path, "a") as fh:
        fh.write('{"config_hash": "b", "status": "o')  # a writer killed mid-line
    assert [r["config_hash"] for r in store.load()] == ["a"]
    assert store.load()[0]["y"] is None
    store.append({"config_hash": "c", "status": "failed"})
    store.append({"config_hash": "c", "status": "ok"})
    lines = store.path.read_text().splitlines()
    assert [json.loads(line)["config_hash"] for line in lines] == ["a", "c", "c"]
    assert [r["status"] for r in store.load()] == ["ok", "ok"]  # the latest record per hash
    assert len(store.load(latest=False)) == 3
    assert store.ok_hashes() == {"a", "c"}


def test_store_names_a_corrupt_line(tmp_path):
    (tmp_path / "records.jsonl").write_text('{"config_hash": "a"}\nnot json\n{"config_hash": "b"}\n')
    with pytest.raises(FerBenchError, match=r"records.jsonl:2: not a JSON record"):
        load_records(tmp_path)


# --- running -----------------------------------------------------------------------------------

def test_smoke_suite_end_to_end(tmp_path, capsys):
    assert run(tmp_path, "--suite", "smoke") == 0
    out = tmp_path / "out"
    [record] = load_records(out)
    assert record["status"] == "ok" and record["pipeline"] == "pca-logreg"
    assert record["protocol"] == "synthetic-holdout" and record["dataset"] == "synthetic"
    assert record["classes"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    m = record["metrics"]
    assert 1 / 7 < m["accuracy"] <= 1 and m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]
    assert sum(map(sum, m["confusion"]["matrix"])) == record["n_test"]
    assert record["val_metrics"]["n"] == record["n_val"] > 0
    assert record["timing"]["fit_s"] > 0 and record["timing"]["peak_rss_mb"] > 0
    assert record["params"] == {"random_state": 0}
    assert record["environment"]["packages"]["numpy"] == np.__version__
    assert record["command"][:4] == ["python", "-m", "fer_bench", "run"]
    for name in ("README.md", "methods.md", "cross_dataset.md", "speed_accuracy.png"):
        assert (out / name).stat().st_size > 0
    # finished jobs are not silently redone: the user says --resume or --force
    assert run(tmp_path, "--suite", "smoke") == 2
    assert "--resume" in capsys.readouterr().err
    assert run(tmp_path, "--suite", "smoke", "--resume") == 0
    assert len(raw_records(tmp_path)) == 1
    assert run(tmp_path, "--suite", "smoke", "--force", "--no-report") == 0
    again = raw_records(tmp_path)
    assert len(again) == 2 and again[0]["metrics"] == again[1]["metrics"]  # seeded: identical


def test_a_failing_pipeline_does_not_lose_the_others(tmp_path, monkeypatch, capsys):
    register_pipeline(monkeypatch, "boom", "fakes:make_boom")
    code = run(tmp_path, "--pipelines", "boom,pca-logreg", "--datasets", "synthetic", "--no-report")
    assert code == 1
    records = raw_records(tmp_path)  # boom ran first, and pca-logreg still ran after it
    assert [(r["pipeline"], r["status"]) for r in records] == [("boom", "failed"), ("pca-logreg", "ok")]
    assert records[0]["error"] == "ValueError: boom: this pipeline always fails second line"
    assert "traceback" not in records[0]
    log = (tmp_path / "out" / "failures.log").read_text()
    assert log.count("Traceback (most recent call last)") == 1 and "raise ValueError" in log
    err = capsys.readouterr().err
    assert "1 ok, 1 failed" in err and "FAILED boom on synthetic-holdout fold official seed 0" in err


def test_resume_after_an_interrupt_gives_the_records_of_an_uninterrupted_run(tmp_path, monkeypatch):
    register_pipeline(monkeypatch, "interrupting", f"{__name__}:make_interrupting")
    args = ("--pipelines", "pca-logreg,interrupting", "--datasets", "synthetic", "--seeds", "0,1",
            "--param", "pca-logreg.n_components=20", "--no-report")
    monkeypatch.setattr(f"{__name__}.INTERRUPT_SEEDS", {1})
    assert run(tmp_path, *args) == 130
    first = raw_records(tmp_path)
    # jobs run protocol -> seed -> fold -> pipeline: seed 0 both, then seed 1's pca-logreg
    assert [(r["pipeline"], r["seed"]) for r in first] == [
        ("pca-logreg", 0), ("interrupting", 0), ("pca-logreg", 1)]
    monkeypatch.setattr(f"{__name__}.INTERRUPT_SEEDS", set())
    assert run(tmp_path, *args, "--resume") == 0
    resumed = raw_records(tmp_path)
    assert len(resumed) == 4 and len({r["config_hash"] for r in resumed}) == 4
    assert resumed[:3] == first  # finished records were kept, not redone

    clean = tmp_path / "clean"
    assert main(["run", "--out", str(clean), *args, *SMALL]) == 0
    by_hash = {r["config_hash"]: r for r in load_records(clean)}
    assert set(by_hash) == {r["config_hash"] for r in resumed}
    for r in resumed:
        assert r["metrics"] == by_hash[r["config_hash"]]["metrics"]


def test_limit_train_and_view_reach_the_record(tmp_path):
    assert run(tmp_path, "--suite", "smoke", "--limit-train", "40", "--view", "valence3",
               "--param", "n_components=20", "--no-report") == 0
    [record] = load_records(tmp_path / "out")
    assert record["n_train"] == 40 and record["limit_train"] == 40
    assert record["view"] == "valence3" and record["classes"] == ["positive", "neutral", "negative"]
    assert len(record["metrics"]["confusion"]["matrix"]) == 3


def test_dry_run_lists_jobs_without_running(tmp_path, capsys):
    assert run(tmp_path, "--pipelines", "pca-logreg", "--protocols", "kfold",
               "--datasets", "synthetic", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "10 jobs" in out and "fold9" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # starts worker processes / a cluster: several seconds
def test_parallel_joblib_gives_the_same_records(tmp_path):
    args = ("--suite", "smoke", "--seeds", "0,1", "--no-report")
    assert run(tmp_path, *args, "-j", "2") == 0
    parallel = {r["config_hash"]: r["metrics"] for r in load_records(tmp_path / "out")}
    assert main(["run", "--out", str(tmp_path / "serial"), *args, *SMALL]) == 0
    serial = {r["config_hash"]: r["metrics"] for r in load_records(tmp_path / "serial")}
    assert parallel == serial and len(serial) == 2


@pytest.mark.slow  # starts worker processes / a cluster: several seconds
def test_dask_backend_matches_joblib(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from fer_bench.cli.main import build_parser

    # A thread worker reached over TCP on the loopback: the --scheduler path, without spawning.
    with distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert run(tmp_path, "--suite", "smoke", "--backend", "dask", "--scheduler",
                   cluster.scheduler_address, "--no-report") == 0
        with distributed.Client(cluster) as client:  # a caller's own client works as well
            args = build_parser().parse_args(
                ["run", "--suite", "smoke", "--backend", "dask", "--out", str(tmp_path / "own"),
                 "--no-report", *SMALL])
            assert args.func(args, client=client) == 0
    assert main(["run", "--out", str(tmp_path / "joblib"), "--suite", "smoke", "--no-report", *SMALL]) == 0
    [dask_record] = load_records(tmp_path / "out")
    [own_record] = load_records(tmp_path / "own")
    [joblib_record] = load_records(tmp_path / "joblib")
    assert dask_record["config_hash"] == joblib_record["config_hash"]
    assert dask_record["metrics"] == joblib_record["metrics"] == own_record["metrics"]


def test_dask_backend_without_dask_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import now fails
    assert run(tmp_path, "--suite", "smoke", "--backend", "dask") == 2
    assert "pip install 'fer-bench[distributed]'" in capsys.readouterr().err


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    assert run(tmp_path, "--suite", "smoke", "--seeds", "0,x") == 2
    assert "--seeds" in capsys.readouterr().err
    assert run(tmp_path, "--suite", "smoke", "--scheduler", "tcp://127.0.0.1:1") == 2
    assert "--backend dask" in capsys.readouterr().err
    assert run(tmp_path, "--suite", "smoke", "--face", "mode=sideways") == 2
    assert "mode" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out" / "records.jsonl")


@pytest.mark.integration
def test_ckplus_ten_folds_on_the_real_data(shared_root, tmp_path):
    code = main(["run", "--out", str(tmp_path / "out"), "--pipelines", "pca-logreg", "--datasets",
                 "ckplus", "--data-root", str(shared_root), "--limit-train", "200",
                 "--param", "n_components=20", "--no-progress", "--no-report"])
    assert code == 0
    records = load_records(tmp_path / "out")
    assert [r["fold"] for r in records] == [f"fold{k}" for k in range(10)]
    assert all(r["protocol"] == "ckplus-10fold" and r["view"] == "ckplus8" for r in records)
    # CK+ has no neutral face, so the scored classes are the seven it has, contempt included
    assert records[0]["classes"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "contempt"]
    assert records[0]["dropped_classes"] == ["neutral"]
    assert sum(r["n_test"] for r in records) == records[0]["data"]["ckplus"]["n_images"]
    assert all(r["n_train"] == 200 for r in records)
    assert np.mean([r["metrics"]["accuracy"] for r in records]) > 1 / 7


class _TTAModel(BaseEstimator):
    """Predicts class 0 plainly, 1 with flips, 2 with ten-crop (``tta`` picks its own mode)."""

    def __init__(self, tta=None):
        self.tta = tta

    def predict(self, X, tta="own"):
        mode = self.tta if tta == "own" else tta
        return np.full(len(X), {None: 0, "flip": 1, "tencrop": 2}[mode])


def test_tta_accuracies_report_each_mode_apart():
    X, y = np.zeros((4, 48, 48), np.uint8), np.array([0, 1, 1, 2])
    own = _TTAModel(tta="tencrop")
    assert tta_accuracies(own, X, y, own.predict(X)) == {"none": 0.25, "flip": 0.5,
                                                         "tencrop": 0.25}
    plain = _TTAModel()
    assert tta_accuracies(plain, X, y, plain.predict(X)) == {"none": 0.25, "flip": 0.5}
    no_tta = make_pca_logreg()
    assert tta_accuracies(no_tta, X, y, y) == {}


def test_starting_weights_name_the_file_and_its_digest(tmp_path):
    import hashlib

    weights = tmp_path / "start.ferb"
    weights.write_bytes(b"weights")
    started = _TTAModel()
    started.init_from = str(weights)  # as CNNClassifier(init_from=...) holds it
    started.get_params = lambda deep=False: {"tta": None, "init_from": str(weights)}
    assert starting_weights(started) == {"path": str(weights),
                                         "sha256": hashlib.sha256(b"weights").hexdigest()}
    assert starting_weights(_TTAModel()) is None
    assert starting_weights(make_pca_logreg()) is None


def test_config_hash_follows_the_starting_weights(tmp_path):
    weights = tmp_path / "start.ferb"
    weights.write_bytes(b"one")
    sel = resolve_selection(pipelines="mini-xception", datasets="synthetic")
    opts = {None: {"n_per_class": 4}}

    def job_hash():
        [job] = [j for j in expand_jobs(sel, dataset_options=opts,
                                        params={"mini-xception": {"init_from": str(weights)}})][:1]
        return job.config_hash

    first = job_hash()
    assert job_hash() == first
    weights.write_bytes(b"two")  # same path, other weights: another job
    assert job_hash() != first
