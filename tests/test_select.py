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
    model = ValidatedPipeline(steps(), search_grid=GRID).fit(X, y, X_val=Xv, y_val=yv)
    tried = [s["estimator__gamma_factor"] for s, _ in model.search_scores_]
    assert tried == GRID["estimator__gamma_factor"]
    scores = [a for _, a in model.search_scores_]
    assert scores[0] < 0.5 < max(scores)
    best = tried[int(np.argmax(scores))]  # the first of the best: ties keep the earlier setting
    assert model.best_params_ == {"estimator__gamma_factor": best}
    assert model[-1].estimator_.gamma_factor == best
    svc = model[-1].estimator_.svc_
    assert svc.shape_fit_[0] == len(X) + len(Xv)  # validation images went back into training


def test_search_respects_size_limit_and_clone():
    X, y = blobs(20, seed=0)
    Xv, yv = blobs(10, seed=2)
    model = ValidatedPipeline(steps(), search_grid=GRID, max_search_samples=len(X) - 1)
    model.fit(X, y, X_val=Xv, y_val=yv)
    assert model.search_scores_ == [] and model[-1].estimator_.svc_.shape_fit_[0] == len(X)
    copy = clone(model)
    assert copy.get_params()["search_grid"] == GRID
    assert copy.get_params()["max_search_samples"] == len(X) - 1


@pytest.mark.parametrize("name", ["hog-svm", "eigenfaces-knn"])
def test_registered_pipelines_search_on_small_sets(name):
    from fer_bench.registry import PIPELINES

    model = PIPELINES.get(name).load()()
    assert isinstance(model, ValidatedPipeline) and model.search_grid
