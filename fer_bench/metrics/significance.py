"""Significance tests for comparing pipelines: on one test set, over folds, over datasets.

* one test set, two pipelines: :func:`mcnemar_exact` on the per-image correctness (the paired
  bootstrap interval of the accuracy difference is
  ``bootstrap_ci(correct_a.astype(float) - correct_b)``, see
  :func:`~fer_bench.metrics.bootstrap.bootstrap_ci`);
* k folds of resampled train/test splits, two pipelines: :func:`corrected_resampled_ttest`;
* many pipelines over many datasets (Demšar 2006): :func:`average_ranks`, :func:`friedman`,
  :func:`nemenyi_cd` and :func:`cd_cliques` for a critical-difference diagram;
* many p-values at once: :func:`holm`.

Every result is plain Python types (or an ndarray where noted), ready for JSON.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact two-sided McNemar test of two pipelines scored on the same test images.

    Parameters
    ----------
    correct_a, correct_b : ndarray of shape (N,), bool
        Whether pipeline A / B got image ``i`` right; the same images in the same order.

    Returns
    -------
    dict with ``a_only`` (int, images only A got right), ``b_only`` (int) and ``p`` (float):
    the two-sided binomial p-value of ``a_only`` out of ``a_only + b_only`` discordant pairs
    at 1/2, or 1.0 when there are no discordant pairs (nothing tells the two apart).
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"correct_a {a.shape} and correct_b {b.shape} must be equal 1-D shapes")
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    # Images both got right (or both wrong) carry no information on which is better.
    n = a_only + b_only
    p = 1.0 if n == 0 else float(stats.binomtest(a_only, n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p": p}


def corrected_resampled_ttest(diffs: np.ndarray, n_train: float, n_test: float) -> dict:
    """Nadeau & Bengio (2003) corrected resampled t-test of per-fold score differences.

    Folds share training images, so their differences are correlated and the plain paired
    t-test is far too eager; the correction inflates the variance of the mean from
    ``s^2 / k`` to ``(1/k + n_test/n_train) s^2``.

    Parameters
    ----------
    diffs : ndarray of shape (k,)
        Per-fold differences of a score, A minus B (e.g. accuracy).
    n_train, n_test : float
        Training and test set sizes of a fold (means over the folds when they differ).

    Returns
    -------
    dict with ``mean`` (mean difference), ``t`` (statistic, ``k - 1`` degrees of freedom),
    ``p`` (two-sided) and ``k`` (int). Edge cases: ``k == 0`` gives ``mean``, ``t`` and
    ``p`` nan; ``k == 1`` gives the one difference as ``mean`` and nan ``t`` and ``p``
    (no variance to estimate); equal differences (zero variance) give ``t = ±inf`` and
    ``p = 0.0`` for a nonzero mean, and nan ``t`` and ``p`` for a zero mean (0/0, undefined).
    """
    d = np.asarray(diffs, dtype=float).ravel()
    if not (n_train > 0 and n_test > 0):
        raise ValueError(f"n_train and n_test must be positive, got {n_train}, {n_test}")
    k = int(d.size)
    nan = float("nan")
    if k == 0:
        return {"mean": nan, "t": nan, "p": nan, "k": 0}
    mean = float(d.mean())
    if k == 1:
        return {"mean": mean, "t": nan, "p": nan, "k": 1}
    # Equal differences are tested directly: their computed variance is round-off, not 0.
    if np.all(d == d[0]):
        if mean == 0.0:
            return {"mean": mean, "t": nan, "p": nan, "k": k}
        return {"mean": mean, "t": math.copysign(math.inf, mean), "p": 0.0, "k": k}
    var = float(d.var(ddof=1))
    t = mean / math.sqrt((1.0 / k + n_test / n_train) * var)
    p = float(2 * stats.t.sf(abs(t), k - 1))
    return {"mean": mean, "t": float(t), "p": p, "k": k}


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values.

    Parameters
    ----------
    pvalues : ndarray of shape (m,)
        Raw p-values; nan entries (tests that could not be run) stay nan and do not count
        towards the number of tests.

    Returns
    -------
    ndarray of shape (m,), float, in the input order: the ``i``-th smallest of the ``m``
    finite p-values is multiplied by ``m - i + 1`` (``i`` from 1), made non-decreasing along
    the sorted order and clipped at 1. Reject where the adjusted value is ``<= alpha``.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    # The running maximum keeps the step-down monotone: a test is rejected only when all
    # smaller p-values are.
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def _scores_2d(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"scores must have shape (n_datasets, n_methods), got {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain nan; ranks would be meaningless")
    return s


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """Mean rank of each method over the datasets, rank 1 being the best.

    Parameters
    ----------
    scores : ndarray of shape (n_datasets, n_methods)
        Higher is better. Tied methods within a dataset share the average of their ranks.

    Returns
    -------
    ndarray of shape (n_methods,), float
    """
    s = _scores_2d(scores)
    # Ranking the negated scores puts the highest score at rank 1.
    return stats.rankdata(-s, axis=1).mean(axis=0)


def friedman(scores: np.ndarray) -> dict:
    """Friedman test with the Iman-Davenport correction, as in Demšar (2006), section 3.2.2.

    Parameters
    ----------
    scores : ndarray of shape (N, k)
        ``N >= 2`` datasets (rows) by ``k >= 2`` methods (columns), higher is better.

    Returns
    -------
    dict with ``chi2`` (Friedman statistic, ``k - 1`` dof) and its ``p_chi2``; ``F`` (the
    Iman-Davenport statistic, less conservative, F distribution with ``k - 1`` and
    ``(k - 1)(N - 1)`` dof) and its ``p_F``; ``n_datasets``, ``n_methods`` and ``ranks``
    (list of the average ranks). When every dataset ranks the methods the same way
    ``chi2 = N(k - 1)``, so ``F`` is ``inf`` and ``p_F`` is 0.
    """
    s = _scores_2d(scores)
    n, k = s.shape
    if n < 2 or k < 2:
        raise ValueError(f"friedman needs at least 2 datasets and 2 methods, got {n} x {k}")
    ranks = average_ranks(s)
    # Demšar's eq.: chi2_F = 12N / (k(k+1)) * (sum_j R_j^2 - k(k+1)^2 / 4).
    chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(ranks**2)) - k * (k + 1) ** 2 / 4.0)
    chi2 = max(chi2, 0.0)  # round-off can push an all-tied table just below 0
    p_chi2 = float(stats.chi2.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    if denom <= 0:
        f_stat, p_f = math.inf, 0.0
    else:
        f_stat = (n - 1) * chi2 / denom
        p_f = float(stats.f.sf(f_stat, k - 1, (k - 1) * (n - 1)))
    return {"chi2": float(chi2), "p_chi2": p_chi2, "F": float(f_stat), "p_F": p_f,
            "n_datasets": int(n), "n_methods": int(k), "ranks": ranks.tolist()}


def nemenyi_cd(n_methods: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks for the Nemenyi post-hoc test (Demšar 2006).

    ``CD = q_alpha * sqrt(k (k + 1) / (6 N))``, where ``q_alpha`` is the studentized range
    quantile (infinite dof) divided by sqrt(2), computed here rather than read off a table.

    Parameters
    ----------
    n_methods : int
        ``k >= 2``.
    n_datasets : int
        ``N >= 1``.
    alpha : float
        Family-wise significance level, in (0, 1).

    Returns
    -------
    float: two methods differ significantly when their average ranks differ by at least CD.
    """
    k, n = int(n_methods), int(n_datasets)
    if k < 2 or n < 1:
        raise ValueError(f"nemenyi_cd needs n_methods >= 2 and n_datasets >= 1, got {k}, {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def cd_cliques(ranks: np.ndarray, cd: float) -> list[tuple[int, ...]]:
    """Groups of methods not significantly different: the bars of a critical-difference diagram.

    Parameters
    ----------
    ranks : ndarray of shape (k,)
        Average ranks, e.g. from :func:`average_ranks`.
    cd : float
        Critical difference, e.g. from :func:`nemenyi_cd`.

    Returns
    -------
    list of tuples of method indices. Each tuple is a maximal run of methods, in rank order,
    whose ranks all differ by less than ``cd`` (Demšar calls a difference of at least CD
    significant); runs contained in another and single methods are left out. The list is
    sorted by the best rank of each group.
    """
    r = np.asarray(ranks, dtype=float).ravel()
    order = np.argsort(r, kind="stable")
    sr = r[order]
    cliques: list[tuple[int, ...]] = []
    last_end = -1
    for i in range(sr.size):
        # Furthest method (in rank order) within cd of method i; it never moves backwards.
        end = int(np.searchsorted(sr, sr[i] + cd, side="left")) - 1
        # A group ending where the previous one ended is a subset of it.
        if end > i and end > last_end:
            cliques.append(tuple(int(j) for j in order[i:end + 1]))
        last_end = max(last_end, end)
    return cliques
