"""Metrics agree with scikit-learn's own functions on random labels."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from fer_bench.metrics import (
    bootstrap_ci,
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
    top_k_accuracy,
)

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def random_case(seed: int, n: int = 400, k: int = 7, skew: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k) * (0.3 if skew else 5))
    y_true = rng.choice(k, size=n, p=p)
    # Right about half the time, so every metric is far from 0 and 1.
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, k, n))
    scores = rng.random((n, k)) + 0.8 * np.eye(k)[y_pred]
    return y_true, y_pred, scores


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("skew", [False, True])
def test_summary_metrics_match_sklearn(seed, skew):
    y_true, y_pred, scores = random_case(seed, skew=skew)
    m = classification_metrics(y_true, y_pred, CLASSES, scores, n_boot=50, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about classes absent from y_true
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
        assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
        assert m["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
        assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(y_true, y_pred))
    assert m["top2_accuracy"] == pytest.approx(
        skm.top_k_accuracy_score(y_true, scores, k=2, labels=np.arange(7))
    )
    assert m["confusion"]["matrix"] == skm.confusion_matrix(y_true, y_pred, labels=range(7)).tolist()
    assert m["confusion"]["classes"] == CLASSES
    assert m["n"] == len(y_true)


@pytest.mark.parametrize("seed", range(3))
def test_per_class_metrics_match_sklearn(seed):
    y_true, y_pred, _ = random_case(seed, skew=True)
    m = classification_metrics(y_true, y_pred, CLASSES, n_boot=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, s = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=np.arange(7), zero_division=0
        )
    for i, c in enumerate(CLASSES):
        row = m["per_class"][c]
        assert row["precision"] == pytest.approx(p[i])
        assert row["recall"] == pytest.approx(r[i])
        assert row["f1"] == pytest.approx(f[i])
        assert row["support"] == s[i]
        # one-vs-rest accuracy is the accuracy of the binary problem "class c or not"
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y_true == i, y_pred == i))


def test_top_k_matches_sklearn_for_every_k():
    y_true, _, scores = random_case(7)
    for k in (1, 2, 3, 6):
        assert top_k_accuracy(y_true, scores, k) == pytest.approx(
            skm.top_k_accuracy_score(y_true, scores, k=k, labels=np.arange(7))
        )


def test_top2_counts_the_second_guess():
    y_true = np.array([0, 1, 2])
    scores = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    assert top_k_accuracy(y_true, scores, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(y_true, scores, 2) == pytest.approx(2 / 3)


def test_no_scores_means_no_top2():
    y_true, y_pred, _ = random_case(1)
    assert classification_metrics(y_true, y_pred, CLASSES, n_boot=10)["top2_accuracy"] is None


def test_pooled_confusion_gives_pooled_metrics():
    a, b = random_case(1, n=200), random_case(2, n=300)
    cm = confusion_matrix(a[0], a[1], 7) + confusion_matrix(b[0], b[1], 7)
    pooled = metrics_from_confusion(cm)
    y_true, y_pred = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
    assert pooled["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert pooled["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))


def test_confusion_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]), 7)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    correct = rng.random(2000) < 0.62
    lo, hi = bootstrap_ci(correct, n_boot=500, seed=3)
    assert (lo, hi) == bootstrap_ci(correct, n_boot=500, seed=3)
    assert lo < correct.mean() < hi
    # a 95 % interval of a proportion is about +-1.96 standard errors wide
    se = np.sqrt(0.62 * 0.38 / 2000)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert bootstrap_ci(correct, n_boot=500, seed=4) != (lo, hi)


def test_bootstrap_ci_of_nothing_is_nan():
    lo, hi = bootstrap_ci(np.array([]))
    assert np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize("seed", range(3))
def test_metrics_carry_the_degeneracy_flag_of_their_confusion(seed):
    from fer_bench.metrics import degeneracy

    y_true, y_pred, scores = random_case(seed)
    for pred in (y_pred, np.zeros_like(y_pred)):  # right half the time; constant
        m = classification_metrics(y_true, pred, CLASSES, scores, n_boot=10)
        assert m["degenerate_reasons"] == degeneracy(m["confusion"]["matrix"], CLASSES)
        assert m["degenerate"] is bool(m["degenerate_reasons"]) is (pred is not y_pred)
