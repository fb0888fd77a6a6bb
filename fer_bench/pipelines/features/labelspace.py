"""The final step of every classical pipeline: fixes the label space the model answers in."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ...errors import LabelSpaceError
from ..base import check_label_space, label_columns


class LabelSpace(ClassifierMixin, BaseEstimator):
    """Wrap a classifier so that ``classes_ == arange(K)`` and ``predict_proba`` has K columns.

    K is ``len(class_names)`` when given, else ``max(y) + 1``; classes missing from a training
    fold get probability 0. ``class_names`` is recorded at fit so that the model can refuse to
    answer for another label space (:meth:`check_classes`).

    Parameters
    ----------
    estimator : classifier
        Any scikit-learn classifier with ``predict_proba``; cloned at fit.
    class_names : sequence of str, optional
        Names of the classes ``0..K-1`` the labels refer to.
    """

    def __init__(self, estimator, class_names: Sequence[str] | None = None) -> None:
        self.estimator = estimator
        self.class_names = class_names

    def fit(self, X, y, **fit_params) -> "LabelSpace":
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise LabelSpaceError(
                f"labels must be a 1-D array of integers 0..K-1, got {y.dtype} of shape {y.shape}"
            )
        n_classes = len(self.class_names) if self.class_names is not None else int(y.max()) + 1
        if y.size and y.max() >= n_classes:
            raise LabelSpaceError(
                f"label {int(y.max())} is outside the {n_classes} classes {list(self.class_names)}"
            )
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = np.arange(n_classes)
        self.class_names_ = tuple(self.class_names) if self.class_names is not None else None
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray(self.estimator_.predict(X)).astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """``(N, K)`` probabilities, rows summing to 1, zero for classes unseen at fit."""
        check_is_fitted(self)
        return label_columns(self.estimator_.predict_proba(X), self.estimator_.classes_,
                             len(self.classes_))

    def check_classes(self, wanted: Sequence[str]) -> None:
        """Raise :class:`LabelSpaceError` unless this model can answer for classes ``wanted``."""
        check_is_fitted(self)
        if self.class_names_ is not None:
            check_label_space(self.class_names_, wanted)
        elif len(wanted) != len(self.classes_):
            raise LabelSpaceError(
                f"model was fitted on {len(self.classes_)} classes but asked to predict "
                f"{len(wanted)} ({list(wanted)}); refit it with the same --view or dataset classes"
            )
