"""How fit time and accuracy grow with the training-set size.

Each registered pipeline is fitted on stratified subsets of growing size (a ladder of sizes) and
scored on a fixed test set: FER2013 Training subsets scored on PublicTest when the real data is
present (the selection split; PrivateTest stays untouched), else the synthetic default's train
split scored on its test split. The growth exponent ``b`` of ``fit_seconds ~ a * n**b`` is a
least-squares line in log-log space over the larger sizes of the ladder, fitted to the
steady-state fit time (:func:`steady_fit_seconds`: a CNN's JIT compilation, repeated for every
new training-set shape, is left out): an RBF SVM's solver should show about 2, a CNN trained for
a fixed number of epochs about 1.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fer_bench.harness.prepare import stratified_subsample
from fer_bench.registry import PIPELINES

from .workload import uncached

#: Training-set sizes on FER2013 (28,709 is all of Training).
FER2013_LADDER = (1000, 2000, 4000, 8000, 16000, 28709)
#: Sizes on the synthetic default (its train split of ``n_per_class=500`` holds about 2,450);
#: every ladder ends with the whole training pool.
SYNTHETIC_LADDER = (250, 500, 1000, 2000)
QUICK_LADDER = (70, 140)
#: Deep pipelines train for this many epochs at every size (no early stopping), so their cost
#: is proportional to the data seen.
DEEP_EPOCHS = 2
#: A point's fit is repeated up to REPEATS times while the repeats take under REPEAT_BUDGET_S.
REPEATS = 3
REPEAT_BUDGET_S = 20.0


@dataclass
class ScalingData:
    """A training pool and a fixed test set of ``(N, 48, 48)`` uint8 faces."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    ladder: tuple[int, ...]


def load_scaling_data(fer2013_root: str | Path | None = None, quick: bool = False,
                      seed: int = 0) -> ScalingData:
    """FER2013 Training / PublicTest under ``fer2013_root`` (a data root holding ``fer2013/``),
    else the synthetic default; ``quick`` gives a tiny synthetic set and ladder for smoke runs."""
    from fer_bench.data import load_dataset

    if fer2013_root is not None and not quick:
        ds = load_dataset("fer2013", fer2013_root)
        train, test = ds.splits == "Training", ds.splits == "PublicTest"
        n = int(train.sum())
        ladder = tuple(k for k in FER2013_LADDER if k < n) + (n,)
        return ScalingData("fer2013", ds.images[train], ds.labels[train], ds.images[test],
                           ds.labels[test], ladder)
    ds = load_dataset("synthetic", n_per_class=40 if quick else 500, seed=seed)
    train, test = ds.splits == "train", ds.splits == "test"
    n = int(train.sum())
    ladder = tuple(k for k in (QUICK_LADDER if quick else SYNTHETIC_LADDER) if k < n) + (n,)
    return ScalingData("synthetic", ds.images[train], ds.labels[train], ds.images[test],
                       ds.labels[test], ladder)


def scaling_estimator(name: str, deep_epochs: int = DEEP_EPOCHS, seed: int = 0):
    """Registered pipeline ``name`` as the study fits it: feature caches off (every size
    computes its features), deep pipelines for exactly ``deep_epochs`` epochs, silent."""
    entry = PIPELINES.get(name)
    params = {"random_state": seed}
    if entry.tags.get("family") == "deep":
        params.update(epochs=deep_epochs, patience=deep_epochs + 1, verbose=0)
    return uncached(entry.load()(**params))


def fit_point(name: str, data: ScalingData, n: int, deep_epochs: int = DEEP_EPOCHS,
              seed: int = 0, max_repeats: int = REPEATS, repeat_budget_s: float = REPEAT_BUDGET_S
              ) -> dict:
    """Fit pipeline ``name`` on ``n`` training faces and score it on the test set.

    The fit is repeated (same data and seed, so the same model) while fewer than
    ``max_repeats`` fits have run and their total time is under ``repeat_budget_s``; the
    fastest counts, which filters out interruptions by other processes for the quick fits
    without multiplying the cost of the long ones.

    Returns
    -------
    dict
        ``pipeline, n_train, fit_s, steady_fit_s, predict_s, accuracy, dataset, n_test,
        repeats`` (seconds of wall time; the fastest of the repeats).
    """
    idx = stratified_subsample(np.arange(len(data.y_train)), data.y_train, n, seed)
    X, y = data.X_train[idx], data.y_train[idx]
    fits, steady, spent = [], [], 0.0
    while len(fits) < max(1, max_repeats) and (not fits or spent < repeat_budget_s):
        est = scaling_estimator(name, deep_epochs, seed)
        t0 = time.perf_counter()
        est.fit(X, y)
        fits.append(time.perf_counter() - t0)
        steady.append(steady_fit_seconds(est, fits[-1]))
        spent += fits[-1]
    t0 = time.perf_counter()
    pred = est.predict(data.X_test)
    predict_s = time.perf_counter() - t0
    return {"pipeline": name, "n_train": int(len(idx)), "fit_s": min(fits),
            "steady_fit_s": min(steady), "predict_s": predict_s,
            "accuracy": float(np.mean(pred == data.y_test)), "dataset": data.name,
            "n_test": int(len(data.y_test)), "repeats": len(fits)}


def steady_fit_seconds(estimator, wall_s: float) -> float:
    """Fit time without one-off costs: for a CNN (its ``history_`` lists each epoch's training
    seconds) the median of the epochs after the first, times the number of epochs — the first
    epoch also compiles the train step for this training-set shape; ``wall_s`` otherwise."""
    history = getattr(estimator, "history_", None) or []
    later = [h["seconds"] for h in history[1:] if "seconds" in h]
    return float(np.median(later) * len(history)) if later else wall_s


def fit_exponent(n: Sequence[float], seconds: Sequence[float], min_points: int = 3
                 ) -> float | None:
    """Exponent ``b`` of ``seconds ~ a * n**b`` from the larger half of the points.

    The least-squares slope of ``log(seconds)`` on ``log(n)`` over the ``max(min_points,
    ceil(len / 2))`` largest ``n``; None with fewer than two distinct sizes.
    """
    n = np.asarray(n, dtype=float)
    s = np.asarray(seconds, dtype=float)
    keep = (n > 0) & (s > 0)
    n, s = n[keep], s[keep]
    order = np.argsort(n)
    k = max(min_points, -(-len(n) // 2))
    n, s = n[order][-k:], s[order][-k:]
    if len(np.unique(n)) < 2:
        return None
    slope, _ = np.polyfit(np.log(n), np.log(s), 1)
    return float(slope)
