"""Calibration of class probabilities: reliability bins, ECE, temperature scaling, second guesses.

:func:`reliability_bins` and :func:`expected_calibration_error` follow Guo et al. (2017), "On
Calibration of Modern Neural Networks": the confidence of a prediction is its top probability,
binned into equal-width bins on (0, 1]. :func:`fit_temperature` / :func:`apply_temperature` are
their temperature scaling, applied to probabilities through ``log p`` (equal to the logits up
to a per-row constant, which the softmax ignores). :func:`second_guess` measures how often the
truth is the runner-up when the model is wrong (on any scores, decision values too).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

# Probabilities are clipped here before the log, so a hard 0 costs a finite NLL.
_EPS = 1e-12
# Search range of the temperature; log-spaced, so T and 1/T are equally easy to find.
_T_MIN, _T_MAX = 0.05, 20.0


def _check(proba: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proba, dtype=float)
    y = np.asarray(y_true, dtype=np.int64).ravel()
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"proba must have shape ({len(y)}, C), got {p.shape}")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"y_true has labels outside 0..{p.shape[1] - 1}")
    return p, y


def _bin_sums(proba: np.ndarray, y_true: np.ndarray, n_bins: int):
    """Edges, and per bin the count, summed confidence and number correct."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    p, y = _check(proba, y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    conf = p.max(axis=1) if p.size else np.zeros(0)
    correct = (p.argmax(axis=1) == y) if p.size else np.zeros(0, dtype=bool)
    # Bin b is (edges[b], edges[b+1]]; searching the edges themselves (not conf * n_bins)
    # keeps a confidence equal to an edge in the bin that edge closes. 0 joins the first bin,
    # and round-off above 1 the last.
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    correct_sum = np.bincount(idx, weights=correct.astype(float), minlength=n_bins)
    return edges, count, conf_sum, correct_sum


def reliability_bins(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> dict:
    """Mean confidence and accuracy per equal-width confidence bin (a reliability diagram).

    Parameters
    ----------
    proba : ndarray of shape (N, C)
        Class probabilities.
    y_true : ndarray of shape (N,)
        Integer labels ``0..C-1``.
    n_bins : int
        Bins ``(edges[b], edges[b+1]]`` on (0, 1]; a confidence of exactly 0 goes in the first.

    Returns
    -------
    dict with ``edges`` (list of ``n_bins + 1`` floats), ``confidence`` and ``accuracy``
    (lists of ``n_bins``, ``None`` for an empty bin) and ``count`` (list of ``n_bins`` ints,
    summing to N).
    """
    edges, count, conf_sum, correct_sum = _bin_sums(proba, y_true, n_bins)
    conf = [float(s / c) if c else None for s, c in zip(conf_sum, count)]
    acc = [float(s / c) if c else None for s, c in zip(correct_sum, count)]
    return {"edges": edges.tolist(), "confidence": conf, "accuracy": acc,
            "count": [int(c) for c in count]}


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error: ``sum_b count_b / N * |acc_b - conf_b|`` over the bins.

    Parameters
    ----------
    proba : ndarray of shape (N, C)
    y_true : ndarray of shape (N,)
    n_bins : int
        As in :func:`reliability_bins`.

    Returns
    -------
    float in [0, 1]; nan for N = 0.
    """
    _, count, conf_sum, correct_sum = _bin_sums(proba, y_true, n_bins)
    n = int(count.sum())
    if n == 0:
        return float("nan")
    # count_b * |acc_b - conf_b| = |correct_b - sum of conf_b|: no division by empty bins.
    return float(np.abs(correct_sum - conf_sum).sum() / n)


def _scaled_log_proba(proba: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(proba, _EPS, None)) / temperature
    return z - special.logsumexp(z, axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising the validation NLL of ``softmax(log(proba) / T)``.

    Parameters
    ----------
    proba : ndarray of shape (N, C)
        Class probabilities on a validation set (not the test set: the fit would leak).
    y_true : ndarray of shape (N,)

    Returns
    -------
    float ``T`` in [0.05, 20]: above 1 softens an over-confident model, below 1 sharpens.
    Accuracy is unchanged, as dividing by ``T`` keeps each row's argmax.
    """
    p, y = _check(proba, y_true)
    if len(y) == 0:
        raise ValueError("fit_temperature needs at least one sample")
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-_scaled_log_proba(p, math.exp(log_t))[rows, y].mean())

    # Optimising log T makes the bounded search scale-free and keeps T > 0.
    res = optimize.minimize_scalar(
        nll, bounds=(math.log(_T_MIN), math.log(_T_MAX)), method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(res.x))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(clip(proba, 1e-12)) / T)``: rescaled probabilities.

    Parameters
    ----------
    proba : ndarray of shape (N, C)
    temperature : float
        ``T > 0``, e.g. from :func:`fit_temperature`; ``T = 1`` only renormalises the rows.

    Returns
    -------
    ndarray of shape (N, C), rows summing to 1.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"proba must have shape (N, C), got {p.shape}")
    return np.exp(_scaled_log_proba(p, float(temperature)))


def second_guess(scores: np.ndarray, y_true: np.ndarray) -> dict:
    """How often the true class is the runner-up when the top prediction is wrong.

    Parameters
    ----------
    scores : ndarray of shape (N, C)
        Probabilities or decision values; ``-inf`` marks a class the model cannot predict.
    y_true : ndarray of shape (N,)

    Returns
    -------
    dict with ``n_wrong`` (int, samples whose argmax is not the truth), ``second_guess``
    (int, of those, the ones whose true class has the second highest score; ties count in
    the sample's favour, as in :func:`~fer_bench.metrics.classification.top_k_accuracy`),
    ``rate`` (``second_guess / n_wrong``, nan when nothing is wrong) and ``chance_rate``
    (``1 / (C - 1)``, the rate of a runner-up drawn at random among the other classes; nan
    for C < 2).
    """
    s, y = _check(scores, y_true)
    n_classes = s.shape[1]
    if len(y) == 0:
        n_wrong, n_second = 0, 0
    else:
        rows = np.arange(len(y))
        wrong = s.argmax(axis=1) != y
        ahead = (s > s[rows, y][:, None]).sum(axis=1)  # classes scored strictly above the truth
        n_wrong = int(wrong.sum())
        n_second = int(np.sum(wrong & (ahead < 2)))
    return {"n_wrong": n_wrong, "second_guess": n_second,
            "rate": n_second / n_wrong if n_wrong else float("nan"),
            "chance_rate": 1.0 / (n_classes - 1) if n_classes >= 2 else float("nan")}
