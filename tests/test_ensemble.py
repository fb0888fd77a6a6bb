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
    assert est.weight_ in est.weights and len(est.weight_scores_) == len(est.weights)
    best = max(s for _, s in est.weight_scores_)
    assert dict(est.weight_scores_)[est.weight_] == best
    p = est.predict_proba(X[:5])
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-6)
    assert (est.predict(X[:5]) == p.argmax(1)).all()
    assert all(t > 0 for t in est.temperatures_)
    assert clone(est).get_params() == est.get_params()
    assert est.output_classes() == est.model_classes_


def test_without_validation_the_members_weigh_equally(data):
    X, y = data
    est = LateFusion(classical="pca-logreg").fit(X, y)
    assert est.weight_ == 0.5 and est.temperatures_ == [1.0, 1.0]


def test_only_classical_members_and_matching_labels(data):
    X, y = data
    with pytest.raises(ValueError, match="not a classical pipeline"):
        LateFusion(classical="mini-xception").fit(X, y)
    with pytest.raises(LabelSpaceError, match="knows 7 classes"):
        LateFusion(classical="pca-logreg").fit(X, y + 1)


def test_another_cnn_at_the_path_is_refused(data):
    X, y = data
    est = LateFusion(classical="pca-logreg").fit(X, y)
    est.cnn_sha256_ = "0" * 64
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
