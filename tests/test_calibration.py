"""Calibration metrics on hand-built cases and a known temperature."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import softmax

from fer_bench.metrics.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    second_guess,
)


def _binary(conf: list[float], correct: list[bool]):
    """Two-class probabilities with top probability ``conf`` on class 0, labels per ``correct``."""
    conf = np.asarray(conf, dtype=float)
    proba = np.stack([conf, 1 - conf], axis=1)
    y = np.where(correct, 0, 1)
    return proba, y


def test_ece_is_zero_when_accuracy_equals_confidence():
    conf = [0.6] * 10 + [0.8] * 10 + [1.0] * 5
    correct = [True] * 6 + [False] * 4 + [True] * 8 + [False] * 2 + [True] * 5
    proba, y = _binary(conf, correct)
    assert expected_calibration_error(proba, y) == pytest.approx(0.0, abs=1e-12)
    bins = reliability_bins(proba, y)
    filled = [i for i, c in enumerate(bins["count"]) if c]
    assert [bins["count"][i] for i in filled] == [10, 10, 5]
    np.testing.assert_allclose([bins["accuracy"][i] for i in filled], [0.6, 0.8, 1.0])
    np.testing.assert_allclose([bins["confidence"][i] for i in filled], [0.6, 0.8, 1.0])


def test_ece_hand_example():
    proba, y = _binary([0.85, 0.85, 0.65, 0.75], [True, False, True, True])
    # Bin (.8, .9]: 2 samples, acc .5, conf .85; (.6, .7]: acc 1, conf .65; (.7, .8]: acc 1, .75.
    expected = 2 / 4 * 0.35 + 1 / 4 * 0.35 + 1 / 4 * 0.25
    assert expected_calibration_error(proba, y, n_bins=10) == pytest.approx(expected)
    assert expected == pytest.approx(0.325)
    bins = reliability_bins(proba, y, n_bins=10)
    assert bins["count"] == [0, 0, 0, 0, 0, 0, 1, 1, 2, 0]
    assert bins["accuracy"][8] == pytest.approx(0.5) and bins["accuracy"][0] is None
    assert bins["confidence"][8] == pytest.approx(0.85) and bins["confidence"][0] is None
    assert math.isnan(expected_calibration_error(np.zeros((0, 3)), np.zeros(0, int)))


def test_reliability_bins_counts_edges_and_boundaries():
    rng = np.random.default_rng(1)
    proba = softmax(rng.normal(size=(500, 7)) * 2, axis=1)
    y = rng.integers(0, 7, 500)
    bins = reliability_bins(proba, y, n_bins=15)
    assert sum(bins["count"]) == 500
    assert len(bins["edges"]) == 16 and bins["edges"][0] == 0.0 and bins["edges"][-1] == 1.0
    assert len(bins["confidence"]) == len(bins["accuracy"]) == 15
    # The ECE is the count-weighted gap of the same bins.
    ece = sum(c / 500 * abs(a - f) for c, a, f in
              zip(bins["count"], bins["accuracy"], bins["confidence"]) if c)
    assert expected_calibration_error(proba, y, n_bins=15) == pytest.approx(ece)
    # Bins are (lo, hi]: 0.2 closes the first of 5 bins, 1.0 the last, and 0 joins the first.
    edge_cases = np.array([[0.2] * 5, [1.0, 0, 0, 0, 0], [0.0] * 5])
    assert reliability_bins(edge_cases, np.zeros(3, int), n_bins=5)["count"] == [2, 0, 0, 0, 1]


def test_fit_temperature_recovers_known_temperature():
    rng = np.random.default_rng(0)
    n, k = 20_000, 7
    z = rng.normal(size=(n, k)) * 1.5
    p_true = softmax(z, axis=1)
    # Labels drawn from softmax(z): the model is calibrated at T = 1 on logits z.
    y = (rng.random(n)[:, None] > np.cumsum(p_true, axis=1)).sum(axis=1)
    y = np.minimum(y, k - 1)
    overconfident = softmax(3 * z, axis=1)
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(3.0, rel=0.10)
    # The fit lowers the NLL, and the calibrated probabilities are closer to the truth.
    rows = np.arange(n)
    fixed = apply_temperature(overconfident, t)
    assert -np.log(fixed[rows, y]).mean() < -np.log(overconfident[rows, y]).mean()
    assert expected_calibration_error(fixed, y) < expected_calibration_error(overconfident, y)


def test_apply_temperature_rows_sum_to_one():
    rng = np.random.default_rng(2)
    proba = softmax(rng.normal(size=(50, 7)), axis=1)
    for t in (0.3, 1.0, 3.0):
        out = apply_temperature(proba, t)
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out.argmax(axis=1), proba.argmax(axis=1))
    unnormalised = proba * 2.5
    np.testing.assert_allclose(apply_temperature(unnormalised, 1.0), proba, rtol=1e-10)
    with pytest.raises(ValueError):
        apply_temperature(proba, 0.0)


def test_second_guess_hand_example():
    ninf = -np.inf
    scores = np.array([
        [0.7, 0.2, 0.1, 0.0],    # y=0: right
        [0.6, 0.3, 0.1, 0.0],    # y=1: wrong, truth second  -> counts
        [0.6, 0.1, 0.3, 0.0],    # y=1: wrong, truth third
        [ninf, 2.0, 1.0, 0.5],   # y=0: wrong, truth never predictable (last)
        [1.0, 3.0, ninf, -1.0],  # y=0: wrong, truth second (decision values) -> counts
    ])
    y = np.array([0, 1, 1, 0, 0])
    r = second_guess(scores, y)
    assert r["n_wrong"] == 4 and r["second_guess"] == 2
    assert r["rate"] == pytest.approx(0.5)
    assert r["chance_rate"] == pytest.approx(1 / 3)
    assert np.isnan(second_guess(scores[:1], y[:1])["rate"])  # nothing wrong
    # Truth tied with the top score but argmax took the other class: a second guess (ties
    # count in the sample's favour, as in top_k_accuracy).
    tie = second_guess(np.array([[0.4, 0.4, 0.2, 0.0]]), np.array([1]))
    assert (tie["n_wrong"], tie["second_guess"]) == (1, 1)
