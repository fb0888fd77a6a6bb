"""The plug-in contract: declarations read without imports, a new dataset + protocol and a new
pipeline each added by one file, and conformance checks over everything registered."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance, check_no_attributes_set_in_init, check_set_params,
)

from fakes import (
    face, make_ckplus48, make_class_tree, make_fer2013_folder, make_jaffe, write_image,
)
from fer_bench import registry
from fer_bench.cli.main import main
from fer_bench.data import load_dataset
from fer_bench.registry import BUDGETS, DATASETS, PIPELINES, PROTOCOLS, read_declarations

TESTS = Path(__file__).resolve().parent
FAMILIES = ("classical", "hybrid", "deep")


@pytest.fixture
def example_plugins(monkeypatch):
    """The example package tests/plugin_example registered through ``$FER_BENCH_PLUGINS``."""
    monkeypatch.setenv(registry.PLUGINS_ENV, "plugin_example")
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # for any worker process
    monkeypatch.syspath_prepend(str(TESTS))
    registry.reload()
    yield
    monkeypatch.delenv(registry.PLUGINS_ENV)
    registry.reload()


# --- the registry reads declarations, never modules -------------------------------------------

def test_listing_imports_no_plugin_module():
    code = ("import sys; from fer_bench.registry import PIPELINES, DATASETS, PROTOCOLS; "
            "names = PIPELINES.names() + DATASETS.names() + PROTOCOLS.names(); "
            "heavy = [m for m in ('jax', 'sklearn', 'cv2', 'fer_bench.pipelines.classical', "
            "'fer_bench.data.fer2013') if m in sys.modules]; print(len(names), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split(None, 1)
    assert int(out[0]) == len(PIPELINES) + len(DATASETS) + len(PROTOCOLS)
    assert out[1].strip() == "[]"


def test_tables_keep_their_declared_order():
    assert PIPELINES.names()[:2] == ["pca-logreg", "eigenfaces"]
    assert PIPELINES.names()[-4:] == ["little-vgg", "mini-xception", "vgg-fer", "cpu-vgg"]
    assert DATASETS.names()[0] == "fer2013" and PROTOCOLS.names()[-1] == "cross"


def test_declarations_may_name_module_level_literals(tmp_path):
    good = tmp_path / "good.py"
    good.write_text("import os\nSMALL = {'epochs': 8, 'tta': None}\nNOT_LITERAL = os.sep\n"
                    "PLUGINS = [{'name': 'x', 'budgets': {'cpu': {'a': SMALL, 'b': SMALL}}}]\n")
    assert read_declarations(good) == [
        {"name": "x", "budgets": {"cpu": {"a": {"epochs": 8, "tta": None},
                                          "b": {"epochs": 8, "tta": None}}}}]


def test_bad_declarations_are_clear_errors(tmp_path, monkeypatch):
    bad = tmp_path / "bad.py"
    bad.write_text("X = 1\nPLUGINS = [dict(name='x')]\n")
    with pytest.raises(ValueError, match="plain literals"):
        read_declarations(bad)
    bad.write_text("PLUGINS = {'kind': 'pipeline'}\n")
    with pytest.raises(ValueError, match="list of dicts"):
        read_declarations(bad)
    for source in ("SMALL = dict(epochs=1)\n",  # a name, but not of a literal
                   "SMALL = {'e': 1}\nSMALL = dict(e=2)\n",  # rebound: not what PLUGINS holds
                   "SMALL = {'e': 1}\nSMALL['e'] = 2\n",
                   "SMALL = {'e': 1}\nif True:\n    SMALL = 3\n",
                   ""):  # bound after PLUGINS (below)
        bad.write_text(source + "PLUGINS = [{'budgets': {'cpu': {'d': SMALL}}}]\n"
                       + ("SMALL = {'e': 1}\n" if not source else ""))
        with pytest.raises(ValueError, match="SMALL is not a name bound once"):
            read_declarations(bad)
    bad.write_text("K = [1]\nPLUGINS = [{'d': {K: 1}}]\n")  # unhashable key: still one line
    with pytest.raises(ValueError, match="plain literals"):
        read_declarations(bad)
    assert read_declarations(TESTS / "fakes.py") is None
    monkeypatch.setenv(registry.PLUGINS_ENV, "no_such_package_here")
    registry.reload()
    try:
        with pytest.raises(ValueError, match="no importable package"):
            PIPELINES.names()
    finally:
        monkeypatch.delenv(registry.PLUGINS_ENV)
        registry.reload()


def test_same_name_twice_is_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "twice_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "again.py").write_text(
        "PLUGINS = [{'kind': 'pipeline', 'name': 'hog-svm', 'target': 'f', 'family': 'classical'}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "twice_pkg")
    registry.reload()
    try:
        with pytest.raises(ValueError, match="hog-svm.*registered twice"):
            PIPELINES.names()
    finally:
        monkeypatch.delenv(registry.PLUGINS_ENV)
        registry.reload()


# --- budgets fall back by family ----------------------------------------------------------------

def test_a_new_cnn_gets_its_family_budget(example_plugins, monkeypatch):
    from fer_bench.registry import budget_for

    PIPELINES.add("new-cnn", "fer_bench.pipelines.deep.factories:make_mini_xception", "x",
                  family="deep")
    assert budget_for("cpu", "fer2013", "new-cnn") == BUDGETS["cpu"]["fer2013"]["deep"]
    assert budget_for("cpu-2h", "fer2013", "new-cnn")["lr_schedule"] == "cosine"
    assert budget_for("cpu", "ckplus", "new-cnn") == {"epochs": 15}
    assert budget_for("full", "fer2013", "new-cnn") == {}
    # a CNN's own entry wins over its family's
    assert budget_for("cpu", "fer2013", "little-vgg") == {"epochs": 1}
    assert budget_for("cpu", "fer2013", "hog-svm") == {}


# --- a new dataset + protocol, and a new pipeline, each one file ------------------------------

def _make_rafdb(root: Path, n_train: int = 12, n_test: int = 2) -> None:
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("test", n_test)):
        for cls in ("happy", "sad", "surprise"):
            for k in range(n):
                image = face(rng, (60, 60))
                # a class-dependent bright band, so the example pipeline has something to learn
                row = 10 + 15 * ("happy", "sad", "surprise").index(cls)
                image[row:row + 6] = 250
                write_image(root / "rafdb" / part / cls / f"{part}_{k}.png", image)


def test_worked_example_runs_end_to_end(example_plugins, tmp_path):
    assert "rafdb" in DATASETS and "rafdb-official" in PROTOCOLS and "hog-logreg" in PIPELINES
    _make_rafdb(tmp_path / "data")
    ds = load_dataset("rafdb", tmp_path / "data")
    assert ds.split_counts == {"test": 6, "train": 36} and len(ds) == 42
    out = tmp_path / "out"
    rc = main(["run", "--pipelines", "hog-logreg,pca-logreg", "--protocols", "rafdb-official",
               "--data-root", str(tmp_path / "data"), "--out", str(out), "--no-progress",
               "--no-report"])
    assert rc == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["pipeline"]: r["status"] for r in records} == {"hog-logreg": "ok",
                                                             "pca-logreg": "ok"}
    for r in records:
        assert r["n_test"] == 6 and r["n_train"] + r["n_val"] == 36 and r["n_val"] > 0
    hog = next(r for r in records if r["pipeline"] == "hog-logreg")
    assert hog["metrics"]["accuracy"] == 1.0  # the band gives the class away


def test_train_test_protocol_carves_validation_by_subject():
    from fer_bench.data.dataset import FaceDataset
    from fer_bench.protocols.train_test import TrainTestSplit

    n = 60
    ds = FaceDataset(
        name="x", images=np.random.default_rng(0).integers(0, 256, (n, 8, 8), dtype=np.uint8),
        labels=np.tile([0, 3], n // 2), paths=np.array([f"{i}.png" for i in range(n)]),
        subjects=np.repeat([f"s{i}" for i in range(12)], 5),
        splits=np.array(["train"] * 50 + ["test"] * 10))
    (split,) = TrainTestSplit("x-official", "x").splits(ds, seed=1)
    assert split.val_from_train and set(split.test) == set(range(50, 60))
    assert not set(ds.subjects[split.val]) & set(ds.subjects[split.train])
    assert sorted([*split.train, *split.val]) == list(range(50))
    (again,) = TrainTestSplit("x-official", "x").splits(ds, seed=2)
    assert not np.array_equal(np.sort(again.val), np.sort(split.val))  # the carve is seeded
    np.testing.assert_array_equal(again.test, split.test)


# --- conformance over everything registered -----------------------------------------------------

@pytest.mark.parametrize("name", PIPELINES.names())
def test_every_pipeline_declares_and_behaves_as_an_estimator(name):
    entry = PIPELINES.get(name)
    assert entry.summary and entry.tags.get("family") in FAMILIES
    for budget, by_dataset in entry.tags.get("budgets", {}).items():
        assert budget in BUDGETS and all(d in DATASETS for d in by_dataset)
    est = entry.load()()
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    for method in ("fit", "predict", "predict_proba", "get_params", "set_params"):
        assert callable(getattr(est, method, None)), f"{name} has no {method}"


#: A fake release per registered dataset: (maker, folder under the data root, name to load).
FAKE_RELEASES = {
    "fer2013": (make_fer2013_folder, "fer2013", "fer2013"),
    "ckplus": (make_ckplus48, "ckplus48", "ckplus"),
    "jaffe": (make_jaffe, "jaffe", "jaffe"),
    "folder": (make_class_tree, "mine", "folder:{root}/mine"),
    "synthetic": (None, None, "synthetic"),
}


def test_every_dataset_has_a_fake_release():
    assert set(FAKE_RELEASES) == set(DATASETS.names())


@pytest.mark.parametrize("name", sorted(FAKE_RELEASES))
def test_every_loader_reads_its_fake_release(name, tmp_path):
    maker, sub, load_as = FAKE_RELEASES[name]
    if maker is None:
        ds = load_dataset(load_as, tmp_path, n_per_class=3)
        assert len(ds) == 3 * len(ds.meta["classes"]) == 21  # the seven basic emotions
        return
    fakes = maker(tmp_path / sub)
    ds = load_dataset(load_as.format(root=tmp_path), tmp_path)
    assert len(ds) == len(fakes)
    by_path = {str(f.path): f for f in fakes}
    for path, label in zip(ds.paths, ds.labels):
        assert by_path[str(path)].label == label


def test_every_pipeline_runs_through_the_harness_on_the_synthetic_default(tmp_path):
    deep = PIPELINES.names(family="deep")
    params = [f"{p}.{k}={v}" for p in deep
              for k, v in (("epochs", 1), ("batch_size", 16), ("verbose", 0))]
    out = tmp_path / "out"
    rc = main(["run", "--pipelines", "all", "--protocols", "synthetic-holdout",
               "--dataset-option", "synthetic.n_per_class=12", "--out", str(out),
               "--no-progress", "--no-report", *sum((["--param", p] for p in params), [])])
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    status = {r["pipeline"]: (r["status"], r.get("error")) for r in records}
    assert set(status) == set(PIPELINES.names())
    assert all(s == "ok" for s, _ in status.values()), status
    assert rc == 0
