"""Significance tests against hand computations and the worked example of Demšar (2006)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fer_bench.metrics.significance import (
    average_ranks,
    cd_cliques,
    corrected_resampled_ttest,
    friedman,
    holm,
    mcnemar_exact,
    nemenyi_cd,
)

# Demšar (2006), Table 6: AUC of C4.5, C4.5+m, C4.5+cf, C4.5+m+cf on 14 UCI datasets.
DEMSAR_AUC = np.array([
    [0.763, 0.768, 0.771, 0.798],  # adult (sample)
    [0.599, 0.591, 0.590, 0.569],  # breast cancer
    [0.954, 0.971, 0.968, 0.967],  # breast cancer wisconsin
    [0.628, 0.661, 0.654, 0.657],  # cmc
    [0.882, 0.888, 0.886, 0.898],  # ionosphere
    [0.936, 0.931, 0.916, 0.931],  # iris
    [0.661, 0.668, 0.609, 0.685],  # liver disorders
    [0.583, 0.583, 0.563, 0.625],  # lung cancer
    [0.775, 0.838, 0.866, 0.875],  # lymphography
    [1.000, 1.000, 1.000, 1.000],  # mushroom
    [0.940, 0.962, 0.965, 0.962],  # primary tumor
    [0.619, 0.666, 0.614, 0.669],  # rheum
    [0.972, 0.981, 0.975, 0.975],  # voting
    [0.957, 0.978, 0.946, 0.970],  # wine
])


def _pair(a_only: int, b_only: int, both: int = 5, neither: int = 3):
    a = np.array([True] * a_only + [False] * b_only + [True] * both + [False] * neither)
    b = np.array([False] * a_only + [True] * b_only + [True] * both + [False] * neither)
    order = np.random.default_rng(0).permutation(a.size)  # the counts must not depend on order
    return a[order], b[order]


def test_mcnemar_matches_hand_computed_binomial():
    a, b = _pair(1, 9)
    r = mcnemar_exact(a, b)
    assert (r["a_only"], r["b_only"]) == (1, 9)
    # Two-sided exact: 2 * P(X <= 1) for X ~ Bin(10, 1/2) = 2 * (1 + 10) / 1024.
    assert r["p"] == pytest.approx(2 * (math.comb(10, 0) + math.comb(10, 1)) / 2**10)
    assert r["p"] == pytest.approx(0.021484375)


def test_mcnemar_is_symmetric_and_handles_no_discordance():
    a, b = _pair(3, 11)
    ab, ba = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert (ba["a_only"], ba["b_only"]) == (11, 3)
    assert ab["p"] == pytest.approx(ba["p"])
    same = mcnemar_exact(a, a)
    assert same == {"a_only": 0, "b_only": 0, "p": 1.0}
    with pytest.raises(ValueError):
        mcnemar_exact(a, b[:-1])


def test_demsar_printed_table_ranks():
    # Ranked as printed, voting's two .975 tie (2.5 each). Hand-summed from the table:
    # C4.5+cf 41/14, C4.5+m+cf 27/14.
    ranks = average_ranks(DEMSAR_AUC)
    np.testing.assert_allclose(ranks, [44 / 14, 28 / 14, 41 / 14, 27 / 14])
    assert friedman(DEMSAR_AUC)["chi2"] == pytest.approx(
        12 * 14 / (4 * 5) * (np.sum(ranks**2) - 4 * 5**2 / 4))


def test_demsar_worked_example():
    # The paper's ranks (3.143, 2.000, 2.893, 1.964) come from unrounded AUCs: on voting it
    # ranks C4.5+cf 2nd and C4.5+m+cf 3rd although both print as .975. Breaking that one tie
    # the same way (two values that both round to .975) reproduces all its numbers.
    auc = DEMSAR_AUC.copy()
    auc[12, 2], auc[12, 3] = 0.9751, 0.9749
    ranks = average_ranks(auc)
    np.testing.assert_allclose(ranks, [3.143, 2.000, 2.893, 1.964], atol=5e-4)
    r = friedman(auc)
    assert r["chi2"] == pytest.approx(9.28, abs=0.01)
    assert r["F"] == pytest.approx(3.69, abs=0.01)
    assert (r["n_datasets"], r["n_methods"]) == (14, 4)
    assert r["ranks"] == pytest.approx(ranks.tolist())
    # Demšar: F(3, 39) critical value at .05 is 2.85, so the null hypothesis is rejected.
    assert r["p_F"] < 0.05
    assert r["p_F"] == pytest.approx(stats.f.sf(r["F"], 3, 39))
    assert r["p_chi2"] == pytest.approx(stats.chi2.sf(r["chi2"], 3))
    cd = nemenyi_cd(4, 14, alpha=0.05)
    assert cd == pytest.approx(1.25, abs=0.01)
    # q_0.05 for k = 4 (Demšar's Table 5a) is 2.569.
    assert cd / math.sqrt(4 * 5 / (6 * 14)) == pytest.approx(2.569, abs=5e-4)
    # C4.5 vs C4.5+m+cf differ by 1.18 < CD: at .05 Nemenyi cannot tell any pair apart.
    assert cd_cliques(ranks, cd) == [(3, 1, 2, 0)]


def test_friedman_edge_cases():
    with pytest.raises(ValueError):
        friedman(DEMSAR_AUC[:1])
    with pytest.raises(ValueError):
        friedman(DEMSAR_AUC[:, :1])
    # Identical rankings on every dataset: chi2 = N(k-1), F infinite.
    perfect = np.tile([3.0, 2.0, 1.0], (5, 1))
    r = friedman(perfect)
    assert r["chi2"] == pytest.approx(5 * 2)
    assert r["F"] == math.inf and r["p_F"] == 0.0
    # All tied: no evidence at all.
    tied = friedman(np.ones((4, 3)))
    assert tied["chi2"] == 0.0 and tied["p_chi2"] == pytest.approx(1.0)


def test_holm_hand_example():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # clipped, and monotone


def test_holm_nan_passthrough():
    adj = holm([np.nan, 0.01, 0.04])
    assert np.isnan(adj[0])
    np.testing.assert_allclose(adj[1:], [0.02, 0.04])  # m = 2: the nan is not a test
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_corrected_resampled_ttest_hand_value():
    diffs = [0.02, 0.03, 0.01, 0.04, 0.00]
    k, n_train, n_test = 5, 900, 100
    mean = sum(diffs) / k  # 0.02
    var = sum((d - mean) ** 2 for d in diffs) / (k - 1)  # 2.5e-4
    t_hand = mean / math.sqrt((1 / k + n_test / n_train) * var)  # 2.2678
    r = corrected_resampled_ttest(np.array(diffs), n_train, n_test)
    assert r["k"] == 5
    assert r["mean"] == pytest.approx(0.02)
    assert r["t"] == pytest.approx(t_hand)
    assert r["t"] == pytest.approx(2.2678, abs=1e-4)
    assert r["p"] == pytest.approx(2 * stats.t.sf(t_hand, k - 1))
    naive = stats.ttest_1samp(diffs, 0.0)
    assert r["p"] > naive.pvalue  # the correction makes the test more cautious
    assert abs(r["t"]) < abs(naive.statistic)
    # Sign follows A - B.
    flipped = corrected_resampled_ttest(-np.array(diffs), n_train, n_test)
    assert flipped["t"] == pytest.approx(-t_hand)


def test_corrected_resampled_ttest_edge_cases():
    one = corrected_resampled_ttest([0.1], 90.0, 10.0)
    assert one["mean"] == pytest.approx(0.1) and math.isnan(one["t"]) and math.isnan(one["p"])
    const = corrected_resampled_ttest([0.1, 0.1, 0.1], 90.0, 10.0)
    assert const["t"] == math.inf and const["p"] == 0.0
    zero = corrected_resampled_ttest([0.0, 0.0], 90.0, 10.0)
    assert math.isnan(zero["t"]) and math.isnan(zero["p"])
    assert math.isnan(corrected_resampled_ttest([], 90.0, 10.0)["mean"])


def test_average_ranks_ties_and_direction():
    scores = np.array([[0.9, 0.5, 0.5], [0.1, 0.8, 0.3]])
    # Row 1: 1, 2.5, 2.5; row 2: 3, 1, 2.
    np.testing.assert_allclose(average_ranks(scores), [2.0, 1.75, 2.25])


def test_cd_cliques_hand_example():
    ranks = np.array([2.0, 1.0, 4.5, 1.4, 2.3])
    # In rank order: m1 1.0, m3 1.4, m0 2.0, m4 2.3, m2 4.5. m1-m0 differ by exactly cd,
    # which counts as significant; {m0, m4} lies inside {m3, m0, m4}; m2 stands alone.
    assert cd_cliques(ranks, 1.0) == [(1, 3), (3, 0, 4)]
    assert cd_cliques(ranks, 10.0) == [(1, 3, 0, 4, 2)]
    assert cd_cliques(ranks, 0.1) == []
