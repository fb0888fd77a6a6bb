"""ValidatedPipeline: selection on the validation split, refit on training + validation."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from fer_bench.pipelines.base import Flatten, accepts_validation
from fer_bench.pipelines.features import LabelSpace, SoftmaxSVC
from fer_bench.pipelines.select import ValidatedPipeline


def blobs(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 48x48 images whose mean brightness in one quadrant gives the class (3 classes)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(110, 30, (3 * n_per_class, 48, 48))
    y = np.repeat(np.arange(3), n_per_class)
    for label, (r, c) in enumerate([(0, 0), (0, 24), (24, 0)]):
        X[y == label, r:r + 24, c:c + 24] += 25
    return np.clip(X, 0, 255).astype(np.uint8), y


def steps():
    return [("pixels", Flatten()), ("clf", LabelSpace(SoftmaxSVC(C=1.0)))]


# With gamma 1e4 times the data's scale the RBF kernel between distinct images is 0: the SVM
# answers with its intercepts alone (one class for every image), so the search must leave it.
GRID = {"estimator__gamma_factor": [1e4, 1.0, 0.5]}


def test_without_validation_it_is_a_plain_pipeline():
    X, y = blobs(20, seed=0)
    Xt, _ = blobs(10, seed=1)
    model = ValidatedPipeline(steps(), search_grid=GRID)
    assert accepts_validation(model)
    plain = Pipeline(steps()).fit(X, y)
    np.testing.assert_array_equal(model.fit(X, y).predict_proba(Xt), plain.predict_proba(Xt))
    assert model.best_params_ == {} and model.search_scores_ == []


def test_selects_on_validation_and_refits_on_all():
    X, y = blobs(20, seed=0)
    Xv, yv = blobs(10, seed=2)
    model = ValidatedPipeline(steps(), search_grid=GRID, refit_on_validation=True)
    model.fit(X, y, X_val=Xv, y_val=yv)
    tried = [s["estimator__gamma_factor"] for s, _ in model.search_scores_]
    assert tried == GRID["estimator__gamma_factor"]
    scores = [a for _, a in model.search_scores_]
    assert scores[0] < 0.5 < max(scores)
    best = tried[int(np.argmax(scores))]  # the first of the best: ties keep the earlier setting
    assert model.best_params_ == {"estimator__gamma_factor": best}
    assert model[-1].estimator_.gamma_factor == best
    svc = model[-1].estimator_.svc_
    assert svc.shape_fit_[0] == len(X) + len(Xv)  # validation images went back into training
    assert model.trained_on_validation_ and model.search_seconds_ > 0
    # clone and the next fit start from the final step given, not the selected copy
    assert clone(model).get_params()["clf__estimator__gamma_factor"] == 1.0
    model.fit(X, y)
    assert model[-1].estimator_.gamma_factor == 1.0 and model.best_params_ == {}


def test_designated_validation_split_selects_but_stays_out_of_training():
    from fer_bench.harness.fit import fit_estimator, selection_summary

    X, y = blobs(20, seed=0)
    Xv, yv = blobs(10, seed=2)
    model = ValidatedPipeline(steps(), search_grid=GRID, refit_on_validation=True)
    fit_estimator(model, X, y, Xv, yv, val_from_train=False)  # e.g. FER2013's PublicTest
    assert model.best_params_ and not model.trained_on_validation_
    assert model[-1].estimator_.svc_.shape_fit_[0] == len(X)
    summary = selection_summary(model)["selection"]
    assert summary["best_params"] == model.best_params_ and not summary["trained_on_validation"]
    assert [r["val_accuracy"] for r in summary["scores"]] == [a for _, a in model.search_scores_]
    fit_estimator(model, X, y, Xv, yv, val_from_train=True)  # a k-fold's inner split
    assert model.trained_on_validation_
    assert selection_summary(ValidatedPipeline(steps()).fit(X, y)) == {}


def test_settings_the_data_cannot_take_are_skipped():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = blobs(4, seed=0)  # 12 images
    Xv, yv = blobs(4, seed=2)
    model = ValidatedPipeline([("pixels", Flatten()), ("clf", KNeighborsClassifier())],
                              search_grid={"n_neighbors": [30, 1, 3]})
    model.fit(X, y, X_val=Xv, y_val=yv)
    assert model.search_scores_[0] == ({"n_neighbors": 30}, None)
    assert model.best_params_["n_neighbors"] in (1, 3)


def test_search_respects_size_limit_and_clone():
    X, y = blobs(20, seed=0)
    Xv, yv = blobs(10, seed=2)
    model = ValidatedPipeline(steps(), search_grid=GRID, max_search_samples=len(X) - 1)
    model.fit(X, y, X_val=Xv, y_val=yv)
    assert model.search_scores_ == [] and model[-1].estimator_.svc_.shape_fit_[0] == len(X)
    copy = clone(model)
    assert copy.get_params()["search_grid"] == GRID
    assert copy.get_params()["max_search_samples"] == len(X) - 1


@pytest.mark.parametrize("name,key", [("hog-svm", "estimator__C"),
                                       ("eigenfaces-knn", "estimator__n_neighbors")])
def test_registered_pipelines_search_around_their_defaults(name, key):
    from fer_bench.registry import PIPELINES

    model = PIPELINES.get(name).load()()
    assert isinstance(model, ValidatedPipeline) and not model.refit_on_validation
    default = model[-1].get_params()[key]
    values = model.search_grid[key]
    assert values[0] == default and len(values) == len(set(values)) > 1  # default first
