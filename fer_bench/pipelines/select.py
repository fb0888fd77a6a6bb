"""Hyper-parameter selection on the protocol's validation split.

A :class:`ValidatedPipeline` is a scikit-learn :class:`~sklearn.pipeline.Pipeline` whose ``fit``
also takes the validation split the harness hands to estimators that can use one
(``fit(X, y, X_val=..., y_val=...)``). On a small training set (CK+ or JAFFE folds) it tries each
setting of ``search_grid`` for the final step (the features are computed once), keeps the most
accurate on the validation images, and refits the whole pipeline, on training + validation
images when the protocol carved the validation part out of the training data (k-fold and
cross-dataset protocols: after selection it goes back into training). On a large training set
(FER2013) the search would cost one SVM fit per setting, so it is skipped, the defaults are
used (they were tuned on FER2013 PublicTest, see :mod:`fer_bench.pipelines.classical`) and the
validation split is not used at all: the result is exactly that of a plain ``Pipeline``.
"""
from __future__ import annotations

import time
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
        order, so list the default value first. A setting the data cannot take (``k`` nearest
        neighbours with fewer than ``k`` images) is skipped.
    max_search_samples : int
        Search only when the training set has at most this many images; 0 never searches.
    refit_on_validation : bool
        After a search, fit on training + validation images. Only for a validation split carved
        out of the training data (the harness sets it from the protocol: k-fold and cross-dataset
        splits yes, FER2013's PublicTest no).
    transform_input, memory, verbose : see :class:`~sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    best_params_ : dict
        The selected final-step parameters (empty when no search ran).
    search_scores_ : list of (dict, float)
        Validation accuracy of every setting tried, in grid order (None for a skipped one).
    search_seconds_ : float
        Time spent on the search (features included), 0 when none ran.
    trained_on_validation_ : bool
        Whether the final fit included the validation images.

    Notes
    -----
    After a search the final step in ``steps`` is a copy with the selected parameters (as a
    Pipeline with a ``memory`` replaces its steps by fitted copies); :func:`sklearn.clone` and the
    next ``fit`` start again from the final step given.
    """

    def __init__(self, steps, *, search_grid: Mapping[str, Sequence[Any]] | None = None,
                 max_search_samples: int = 5000, refit_on_validation: bool = False,
                 transform_input=None, memory=None, verbose: bool = False) -> None:
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.search_grid = search_grid
        self.max_search_samples = max_search_samples
        self.refit_on_validation = refit_on_validation

    def fit(self, X, y, X_val=None, y_val=None, **params) -> "ValidatedPipeline":
        """Fit on ``X`` ``(N, 48, 48)`` and ``y`` ``(N,)``; with a validation split
        (``X_val`` ``(M, 48, 48)``, ``y_val`` ``(M,)``) and ``N <= max_search_samples``, select
        the final step's parameters on it first (and with ``refit_on_validation`` fit on all
        ``N + M`` images)."""
        self._restore_given_final()
        self.best_params_, self.search_scores_, self.search_seconds_ = {}, [], 0.0
        self.trained_on_validation_ = False
        if not self._will_search(X, X_val):
            return super().fit(X, y, **params)
        t0 = time.perf_counter()
        name, final = self.steps[-1]
        self._given_final = (name, final)
        features = clone(Pipeline(self.steps[:-1]))
        F, F_val = features.fit_transform(X, y), features.transform(X_val)
        y_val = np.asarray(y_val)
        best_score = -np.inf
        for setting in ParameterGrid(dict(self.search_grid)):
            try:
                model = clone(final).set_params(**setting).fit(F, y)
                score = float(np.mean(model.predict(F_val) == y_val))
            except ValueError:  # a setting this data cannot take (k > images): skip it
                self.search_scores_.append((setting, None))
                continue
            self.search_scores_.append((setting, score))
            if score > best_score:  # strict: ties keep the earlier (default-first) setting
                best_score, self.best_params_ = score, dict(setting)
        self.search_seconds_ = time.perf_counter() - t0
        self.steps[-1] = (name, clone(final).set_params(**self.best_params_))
        if not self.refit_on_validation:
            return super().fit(X, y, **params)
        self.trained_on_validation_ = True
        X_all = np.concatenate([np.asarray(X), np.asarray(X_val)])
        y_all = np.concatenate([np.asarray(y), y_val])
        return super().fit(X_all, y_all, **params)

    def _will_search(self, X, X_val) -> bool:
        return bool(self.search_grid) and X_val is not None and len(X_val) > 0 \
            and 0 < len(X) <= self.max_search_samples

    def _restore_given_final(self) -> None:
        given = getattr(self, "_given_final", None)
        if given is not None:
            self.steps[-1] = given

    def __sklearn_clone__(self):
        # Clone from the final step given, not from the copy a search put in its place.
        given = getattr(self, "_given_final", None)
        if given is None:
            return super().__sklearn_clone__()
        searched = self.steps[-1]
        self.steps[-1] = given
        try:
            return super().__sklearn_clone__()
        finally:
            self.steps[-1] = searched
