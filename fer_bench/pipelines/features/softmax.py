"""An RBF SVM whose probabilities are a softmax of its one-vs-rest scores.

``SVC(probability=True)`` runs a 5-fold cross-validation inside ``fit`` to calibrate Platt
scaling, five times the cost of the SVM itself on FER2013's 28,709 images. A softmax over the
one-vs-rest decision values (votes plus confidence) is free, and with ``break_ties=True`` its
argmax is exactly ``predict``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from ..base import shared_result


class SoftmaxSVC(ClassifierMixin, BaseEstimator):
    """Kernel SVM (libsvm, one-vs-one) with ``predict_proba = softmax(decision / temperature)``.

    Parameters
    ----------
    C, kernel, gamma, class_weight, cache_size, tol : see :class:`sklearn.svm.SVC`.
    gamma_factor : float
        Multiplies the RBF coefficient ``gamma`` once ``"scale"`` / ``"auto"`` is resolved on the
        training data, so the kernel width can be tuned relative to the data's own scale.
    temperature : float
        Softmax temperature over the one-vs-rest scores (votes in ``0..K-1`` plus a confidence
        in ``(-1/3, 1/3)``); larger is less confident. Leaves ``predict`` unchanged.
    random_state : int
        Seed of libsvm (only used by its shuffling, results are deterministic anyway).
    """

    def __init__(self, C: float = 1.0, kernel: str = "rbf", gamma: float | str = "scale",
                 gamma_factor: float = 1.0, class_weight=None, temperature: float = 1.0,
                 cache_size: float = 1000, tol: float = 1e-3, random_state: int = 0) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.gamma_factor = gamma_factor
        self.class_weight = class_weight
        self.temperature = temperature
        self.cache_size = cache_size
        self.tol = tol
        self.random_state = random_state

    def _resolve_gamma(self, X) -> float:
        if self.gamma == "scale":  # scikit-learn's definition
            var = float(np.asarray(X, dtype=np.float64).var())
            gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        elif self.gamma == "auto":
            gamma = 1.0 / X.shape[1]
        else:
            gamma = float(self.gamma)
        return gamma * self.gamma_factor

    def fit(self, X, y) -> "SoftmaxSVC":
        X = np.asarray(X)
        self.gamma_ = self._resolve_gamma(X)
        self.svc_ = SVC(
            C=self.C, kernel=self.kernel, gamma=self.gamma_, class_weight=self.class_weight,
            cache_size=self.cache_size, tol=self.tol, decision_function_shape="ovr",
            break_ties=True, random_state=self.random_state,
        ).fit(X, y)
        self.classes_ = self.svc_.classes_
        self.n_features_in_ = self.svc_.n_features_in_
        return self

    def decision_function(self, X) -> np.ndarray:
        """One-vs-rest scores of shape ``(N, K)`` (also for two classes)."""
        check_is_fitted(self)
        X = np.asarray(X)

        def compute() -> np.ndarray:
            scores = self.svc_.decision_function(X)
            if scores.ndim == 1:  # binary: libsvm gives one signed score for classes_[1]
                scores = np.stack([-scores, scores], axis=1)
            return scores

        # The kernel is nearly all of scoring: done once for predict and predict_proba.
        return shared_result((id(self.svc_),), X, compute)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(N, K)``; rows sum to 1, argmax equals :meth:`predict`."""
        return softmax(self.decision_function(X) / self.temperature, axis=1)
