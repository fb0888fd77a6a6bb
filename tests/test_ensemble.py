"""The late-fusion ensemble: a stored CNN and a classical pipeline, weighed on validation."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from fer_bench.errors import LabelSpaceError, ModelFileError
from fer_bench.pipelines.ensemble import LateFusion, make_ensemble
from fer_bench.pipelines.hybrid import model_path


@pytest.fixture(scope="module")
def data():
    from fer_bench.registry import DATASETS

    ds = DATASETS.get("synthetic").load()(n_per_class=12, seed=0)
    classes = sorted(set(ds.labels))
    y = np.array([classes.index(c) for c in ds.labels])
    return np.asarray(ds.images), y


def test_weights_are_chosen_on_validation_and_probabilities_fuse(data):
    X, y = data
    half = len(X) // 2
    est = make_ensemble(classical="pca-logreg").fit(X[:half], y[:half], X[half:], y[half:])
    assert [w for w, _ in est.weight_scores_] == [(w, round(1 - w, 2)) for w in est.weights]
    assert est.weights_ in dict(est.weight_scores_) and sum(est.weights_) == pytest.approx(1)
    best = max(s for _, s in est.weight_scores_)
    assert dict(est.weight_scores_)[est.weights_] == best
    p = est.predict_proba(X[:5])
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-6)
    assert (est.predict(X[:5]) == p.argmax(1)).all()
    assert all(t > 0 for t in est.temperatures_)
    assert clone(est).get_params() == est.get_params()
    assert est.output_classes() == est.model_classes_


def test_without_validation_the_members_weigh_equally(data):
    X, y = data
    est = LateFusion(classical="pca-logreg").fit(X, y)
    assert est.weights_ == (0.5, 0.5) and est.temperatures_ == [1.0, 1.0]


def test_only_classical_members_and_matching_labels(data):
    X, y = data
    with pytest.raises(ValueError, match="not a classical pipeline"):
        LateFusion(classical="mini-xception").fit(X, y)
    with pytest.raises(LabelSpaceError, match="knows 7 classes"):
        LateFusion(classical="pca-logreg").fit(X, y + 1)


def test_another_cnn_at_the_path_is_refused(data):
    X, y = data
    est = LateFusion(classical="pca-logreg").fit(X, y)
    est.cnn_sha256_ = ["0" * 64]
    with pytest.raises(ModelFileError, match="not the CNN this ensemble was fitted with"):
        est.predict(X[:2])
    assert model_path(None).name == "default.ferb"


def test_the_harness_refuses_a_dataset_whose_classes_the_cnn_lacks(tmp_path):
    from fer_bench.cli.main import main
    from fer_bench.results.store import load_records

    # CK+-like labels (contempt, no neutral): the FER2013 CNN cannot answer them
    tree = tmp_path / "tree"
    rng = np.random.default_rng(0)
    import cv2

    for c in ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"):
        (tree / c).mkdir(parents=True)
        for i in range(12):
            cv2.imwrite(str(tree / c / f"s{i % 4}_{i}.png"),
                        rng.integers(0, 255, (48, 48), dtype=np.uint8))
    assert main(["run", "--pipelines", "ensemble", "--datasets", f"folder:{tree}",
                 "--out", str(tmp_path / "out"), "--no-progress", "--no-report"]) == 1
    failed = load_records(tmp_path / "out")
    assert failed and all("LabelSpaceError" in r["error"] and "contempt" in r["error"]
                          for r in failed)


def _other_cnn(path):
    """The bundled CNN with its classifier's weights scaled and shifted: another CNN file."""
    from fer_bench.models import load_model, save_model

    model = load_model(model_path(None))
    head = model.estimator.variables_["params"]["Conv_6"]
    head["kernel"] = head["kernel"] * 0.5 + 0.01
    save_model(model, path)
    return load_model(path)


def test_further_cnns_are_members_with_their_own_weights(data, tmp_path):
    from fer_bench.metrics import apply_temperature
    from fer_bench.models import load_model
    from fer_bench.pipelines.ensemble import simplex_grid

    X, y = data
    half = len(X) // 2
    other = _other_cnn(tmp_path / "other.ferb")
    est = make_ensemble(classical="pca-logreg", extra_models=str(other.path),  # as --param gives it
                        weights=(0.0, 0.5, 1.0)).fit(X[:half], y[:half], X[half:], y[half:])
    assert est.extra_models == (str(other.path),)
    assert [w for w, _ in est.weight_scores_] == simplex_grid((0.0, 0.5, 1.0), 3)
    assert len(est.weights_) == len(est.temperatures_) == 3 and len(est.cnn_sha256_) == 2
    assert dict(est.weight_scores_)[est.weights_] == max(s for _, s in est.weight_scores_)
    # The fused probabilities are the members' own, each calibrated and weighed.
    members = [load_model(model_path(None)).estimator.predict_proba(X[:4]),
               other.estimator.predict_proba(X[:4]), est.classical_.predict_proba(X[:4])]
    assert not np.allclose(members[0], members[1])
    expected = sum(w * apply_temperature(p, t)
                   for w, p, t in zip(est.weights_, members, est.temperatures_))
    np.testing.assert_allclose(est.predict_proba(X[:4]), expected, rtol=1e-6)
    other.path.write_bytes(model_path(None).read_bytes())
    with pytest.raises(ModelFileError, match="not the CNN this ensemble was fitted with"):
        est.predict(X[:2])


def test_simplex_grid():
    from fer_bench.pipelines.ensemble import simplex_grid

    assert simplex_grid((0.0, 0.5, 1.0), 2) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    assert simplex_grid((0.6, 0.8), 2) == [(0.6, 0.4), (0.8, 0.2)]  # a CNN weight each, as before
    grid = simplex_grid(np.linspace(0, 1, 21).round(2), 3)
    assert len(grid) == 231 == len(set(grid)) and all(abs(sum(w) - 1) < 1e-9 for w in grid)
    assert len(simplex_grid(np.linspace(0, 1, 21).round(2), 4)) == 1771
    with pytest.raises(ValueError, match="sum to 1"):
        simplex_grid((0.6, 0.7), 3)
    with pytest.raises(ValueError, match="coarser weights"):
        simplex_grid(np.linspace(0, 1, 21).round(2), 5)


def test_extra_cnns_count_in_the_job_and_the_model_key(tmp_path):
    import dataclasses

    from fer_bench.harness.fit import pretrained_files
    from fer_bench.harness.jobs import Job, read_models_digests
    from fer_bench.harness.model_store import model_key

    a, b = tmp_path / "a.ferb", tmp_path / "b.ferb"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    assert read_models_digests({}) == {}
    digests = read_models_digests({"extra_models": f"{a},{b}"})
    assert len(set(digests["extra_models_sha256"])) == 2
    job = Job(pipeline="ensemble", protocol="fer2013-official", datasets=("fer2013",),
              fold="official", seed=0, view="7class", params={"extra_models": [str(a)]})
    before, key = job.config_hash, model_key(job, job.params, "data")
    a.write_bytes(b"another CNN")
    again = dataclasses.replace(job)
    assert again.config_hash != before and model_key(again, again.params, "data") != key
    assert pretrained_files(job)[-1] == a


def test_a_fit_from_before_several_cnns_still_predicts(data):
    X, y = data
    est = LateFusion(classical="pca-logreg").fit(X, y)
    old = {k: v for k, v in vars(est).items() if k not in ("extra_models", "weights_")}
    old.update(cnn_sha256_=est.cnn_sha256_[0], weight_=0.7, weight_scores_=[(0.7, 0.5)])
    restored = LateFusion.__new__(LateFusion)
    restored.__setstate__(old)  # what skops does with a file's attributes
    assert restored.weights_ == (0.7, 1 - 0.7) and restored.extra_models == ()
    assert restored.cnn_sha256_ == est.cnn_sha256_
    assert restored.search_scores_ == [({"weights": [0.7, 1 - 0.7]}, 0.5)]
    assert restored.predict(X[:3]).shape == (3,)


def test_fine_tuned_cnns_answer_the_labels_classes_and_travel_in_the_model_file(data, tmp_path):
    from fer_bench.models import FerModel, load_model, save_model

    X, y = data
    y = y % 5  # five classes: the bundled CNN's seven cannot answer them as they are
    half = len(X) // 2
    est = make_ensemble(classical="pca-logreg", fine_tune_epochs=1, weights=(0.0, 0.5, 1.0))
    assert est.output_classes() is None  # the harness then checks nothing before the fit
    est.fit(X[:half], y[:half], X[half:], y[half:])
    assert est.model_classes_ is None and list(est.classes_) == list(range(5))
    assert len(est.tuned_) == 1 and est.tuned_[0].dtype == np.uint8
    p = est.predict_proba(X[:6])
    assert p.shape == (6, 5) and np.allclose(p.sum(1), 1, atol=1e-6)
    assert dict(est.weight_scores_)[est.weights_] == max(s for _, s in est.weight_scores_)
    names = ("angry", "disgust", "fear", "happy", "sad")
    face = {"mode": "auto", "size": 48, "margin": 0.2, "equalize": None}
    path = save_model(FerModel(est, names, face, "classical", {"pipeline": "ensemble"}),
                      tmp_path / "ens.ferb")
    # The stored ensemble carries its fine-tuned CNN: it predicts the same without the file
    # it started from being read (its digest check would refuse another one).
    # the trained networks are kept for predictions, not written to the file
    assert hasattr(est, "_tuned_cache") and "_tuned_cache" not in est.__getstate__()
    loaded = load_model(path).estimator
    loaded.__dict__.pop("_tuned_cache", None)  # what loading's own probe rebuilt
    loaded.cnn_sha256_ = ["0" * 64]
    np.testing.assert_allclose(loaded.predict_proba(X[:6]), p, rtol=1e-5, atol=1e-6)
    loaded.tuned_ = loaded.tuned_ * 2  # two CNNs where it was fitted with one
    with pytest.raises(ModelFileError, match="does not match the fitted ensemble"):
        loaded.predict(X[:2])


@pytest.mark.parametrize("classical", ["pca-logreg", "fisherfaces"])  # unwrapped, LabelSpace
def test_fine_tuned_on_labels_that_miss_a_class_the_columns_stay_labels(data, classical):
    X, y = data
    keep = y != 2  # labels 0, 1, 3, ...: the CNN's third output stands for label 3
    X, y = X[keep], y[keep]
    half = len(X) // 2
    est = make_ensemble(classical=classical, fine_tune_epochs=1, weights=(0.0, 0.5, 1.0))
    est.fit(X[:half], y[:half], X[half:], y[half:])
    assert list(est.classes_) == list(range(7))
    p = est.predict_proba(X[:8])
    assert p.shape == (8, 7) and p[:, 2].max() < 1e-3 and np.allclose(p.sum(1), 1)
    assert 2 not in set(est.predict(X))


def test_fine_tuning_is_refused_before_any_fit_when_it_cannot_run(data, tmp_path):
    X, y = data
    with pytest.raises(ValueError, match="fine_tune_epochs must be 0 or more"):
        make_ensemble(classical="pca-logreg", fine_tune_epochs=-1).fit(X, y)
    missing = str(tmp_path / "none.ferb")
    est = make_ensemble(classical="fisherfaces", model=missing, fine_tune_epochs=1)
    with pytest.raises(Exception, match="none.ferb"):
        est.fit(X, y)
    assert not hasattr(est, "classical_")
