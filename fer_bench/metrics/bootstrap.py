"""Seeded percentile-bootstrap confidence interval of a per-sample mean (e.g. accuracy)."""
from __future__ import annotations

import numpy as np

# Resamples drawn per batch: bounds memory at about 8 MB per million test samples.
_BATCH = 100


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``values.mean()``.

    Parameters
    ----------
    values : ndarray of shape (N,)
        Per-sample values, e.g. 1 for a correct prediction and 0 otherwise.
    n_boot : int
        Number of resamples (each N draws with replacement).
    seed : int
        Seeds the resampling, so the interval is reproducible.
    level : float
        Coverage, e.g. 0.95 for the 2.5 and 97.5 percentiles.

    Returns
    -------
    (lo, hi) : tuple of float; ``(nan, nan)`` for empty input.
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0 or n_boot < 1:
        return (float("nan"), float("nan"))
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    n = values.size
    means = np.empty(n_boot)
    for start in range(0, n_boot, _BATCH):
        stop = min(start + _BATCH, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))
