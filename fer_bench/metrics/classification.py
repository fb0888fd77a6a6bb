"""Classification metrics computed from a confusion matrix, as JSON-ready dicts.

Everything a report needs (accuracy, balanced accuracy, macro-F1, Hamming loss, top-2 accuracy,
per-class precision / recall / F1 / support / one-vs-rest accuracy, the confusion matrix, a
bootstrap interval on accuracy and the degeneracy flag) comes out of
:func:`classification_metrics`. The per-class and summary numbers are functions of the
confusion matrix alone, so folds can be pooled by summing matrices
(:func:`metrics_from_confusion`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .bootstrap import bootstrap_ci
from .degeneracy import degeneracy


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as ``j``.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N,)
        Integer labels in ``0..n_classes-1``.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes), int64
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D shapes")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} has labels outside 0..{n_classes - 1}")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # 0/0 -> 0, as scikit-learn's zero_division default reports it.
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def per_class_metrics(cm: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, support and one-vs-rest accuracy for each class of ``cm``.

    One-vs-rest accuracy of class ``c`` is the fraction of all samples on which the binary
    question "is it ``c``?" is answered right: ``(N - FP_c - FN_c) / N``.
    """
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    n = cm.sum()
    ovr = _ratio(n - (predicted - tp) - (support - tp), np.full(len(tp), n))
    return {
        c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
            "support": int(support[i]), "accuracy": float(ovr[i])}
        for i, c in enumerate(classes)
    }


def metrics_from_confusion(cm: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and Hamming loss of a confusion matrix.

    Balanced accuracy averages recall over the classes that occur in the true labels; macro-F1
    averages F1 over the classes that occur in the true or the predicted labels. Both follow
    scikit-learn's defaults when it is given no ``labels`` argument.
    """
    cm = np.asarray(cm, dtype=np.int64)
    n = cm.sum()
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    accuracy = float(tp.sum() / n) if n else 0.0
    seen = support > 0
    balanced = float(np.mean(tp[seen] / support[seen])) if seen.any() else 0.0
    occurs = (support + predicted) > 0
    f1 = _ratio(2 * tp, support + predicted)
    macro_f1 = float(np.mean(f1[occurs])) if occurs.any() else 0.0
    # For single-label multiclass data the Hamming loss is the fraction of wrong labels.
    return {"accuracy": accuracy, "balanced_accuracy": balanced, "macro_f1": macro_f1,
            "hamming_loss": 1.0 - accuracy if n else 0.0}


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int = 2) -> float:
    """Fraction of samples whose true class is among the ``k`` highest-scored classes.

    Parameters
    ----------
    y_true : ndarray of shape (N,)
    scores : ndarray of shape (N, K)
        Probabilities or decision values; column ``c`` scores class ``c``. ``-inf`` marks a
        class the model cannot predict.
    k : int

    Ties count in the sample's favour (a true class tied for k-th place is a hit).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or len(scores) != len(y_true):
        raise ValueError(f"scores must have shape ({len(y_true)}, K), got {scores.shape}")
    if len(y_true) == 0:
        return 0.0
    true_score = scores[np.arange(len(y_true)), y_true]
    rank = (scores > true_score[:, None]).sum(axis=1)  # classes strictly ahead of the truth
    return float(np.mean(rank < k))


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    scores: np.ndarray | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Every metric a record stores, as plain JSON types.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N,)
        Labels ``0..K-1`` indexing ``classes``.
    classes : sequence of str, length K
    scores : ndarray of shape (N, K), optional
        Class scores for top-2 accuracy; without them ``top2_accuracy`` is ``None``.
    n_boot, seed, level
        Percentile bootstrap of accuracy: ``n_boot`` resamples drawn with ``seed``.

    Returns
    -------
    dict with ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``hamming_loss``,
    ``top2_accuracy``, ``accuracy_ci95`` ``[lo, hi]``, ``per_class``, ``confusion``
    ``{matrix, classes}``, ``n``, and ``degenerate`` (bool) with ``degenerate_reasons`` (list of
    str, see :func:`~fer_bench.metrics.degeneracy.degeneracy`).
    """
    classes = [str(c) for c in classes]
    cm = confusion_matrix(y_true, y_pred, len(classes))
    out: dict = metrics_from_confusion(cm)
    if scores is None:
        out["top2_accuracy"] = None
    elif len(classes) <= 2:
        out["top2_accuracy"] = 1.0  # with two classes or fewer the truth is always in the top two
    else:
        out["top2_accuracy"] = top_k_accuracy(y_true, scores, k=2)
    correct = np.asarray(y_true) == np.asarray(y_pred)
    out["accuracy_ci95"] = list(bootstrap_ci(correct, n_boot=n_boot, seed=seed, level=level))
    out["per_class"] = per_class_metrics(cm, classes)
    out["confusion"] = {"matrix": cm.tolist(), "classes": classes}
    out["n"] = int(cm.sum())
    out["degenerate_reasons"] = degeneracy(cm, classes)
    out["degenerate"] = bool(out["degenerate_reasons"])
    return out
