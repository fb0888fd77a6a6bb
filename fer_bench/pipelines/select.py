"""Hyper-parameter selection on the protocol's validation split.

A :class:`ValidatedPipeline` is a scikit-learn :class:`~sklearn.pipeline.Pipeline` whose ``fit``
also takes the validation split the harness hands to estimators that can use one
(``fit(X, y, X_val=..., y_val=...)``). On a small training set (CK+ or JAFFE folds) it tries each
setting of ``search_grid`` for the final step (the features are computed once), keeps the most
accurate on the validation images, and refits the whole pipeline on training + validation
images: the validation part was only carved out of the training fold for model selection, so
after selection it goes back into training. On a large training set (FER2013) the search would
cost one SVM fit per setting, so it is skipped, the defaults are used (they were tuned on
FER2013 PublicTest, see :mod:`fer_bench.pipelines.classical`) and the validation split is not
used at all: the result is exactly that of a plain ``Pipeline``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline


class ValidatedPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` that selects its final step's parameters on a
    validation split.

    Parameters
    ----------
    steps : list of (str, estimator)
        As for :class:`~sklearn.pipeline.Pipeline`.
    search_grid : dict of str -> list, optional
        Parameters of the final step and the values to try, as for
        :class:`~sklearn.model_selection.ParameterGrid`. Ties go to the earliest setting in grid
        order, so list the default value first.
    max_search_samples : int
        Search only when the training set has at most this many images; 0 never searches.
    transform_input, memory, verbose : see :class:`~sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    best_params_ : dict
        The selected final-step parameters (empty when no search ran).
    search_scores_ : list of (dict, float)
        Validation accuracy of every setting tried, in grid order.
    """

    def __init__(self, steps, *, search_grid: Mapping[str, Sequence[Any]] | None = None,
                 max_search_samples: int = 5000, transform_input=None, memory=None,
                 verbose: bool = False) -> None:
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.search_grid = search_grid
        self.max_search_samples = max_search_samples

    def fit(self, X, y, X_val=None, y_val=None, **params) -> "ValidatedPipeline":
        """Fit on ``X`` ``(N, 48, 48)`` and ``y`` ``(N,)``; with a validation split
        (``X_val`` ``(M, 48, 48)``, ``y_val`` ``(M,)``) and ``N <= max_search_samples``, select
        the final step's parameters on it first and fit on all ``N + M`` images."""
        self.best_params_, self.search_scores_ = {}, []
        if not self._will_search(X, X_val):
            return super().fit(X, y, **params)
        name, final = self.steps[-1]
        features = clone(Pipeline(self.steps[:-1]))
        F, F_val = features.fit_transform(X, y), features.transform(X_val)
        y_val = np.asarray(y_val)
        best_score = -np.inf
        for setting in ParameterGrid(dict(self.search_grid)):
            score = float(np.mean(clone(final).set_params(**setting).fit(F, y).predict(F_val) == y_val))
            self.search_scores_.append((setting, score))
            if score > best_score:  # strict: ties keep the earlier (default-first) setting
                best_score, self.best_params_ = score, dict(setting)
        # Like Pipeline with a memory, the fitted step replaces the one given.
        self.steps[-1] = (name, clone(final).set_params(**self.best_params_))
        X_all = np.concatenate([np.asarray(X), np.asarray(X_val)])
        y_all = np.concatenate([np.asarray(y), y_val])
        return super().fit(X_all, y_all, **params)

    def _will_search(self, X, X_val) -> bool:
        return bool(self.search_grid) and X_val is not None and len(X_val) > 0 \
            and 0 < len(X) <= self.max_search_samples
