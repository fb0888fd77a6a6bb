"""Late fusion of the two families: a trained CNN's and a classical pipeline's probabilities.

``ensemble`` reads a trained CNN from a model file (by default the bundled FER2013
mini-Xception, never retrained, as ``cnn-svm`` reads it), fits a registered classical pipeline
(by default ``fusion-svm``, the best classical one on FER2013) on the training part, then on the
validation part (FER2013: PublicTest) calibrates each member's probabilities with a temperature
(:func:`~fer_bench.metrics.fit_temperature`) and chooses the CNN's weight ``w`` of the fused
``w * p_cnn + (1 - w) * p_classical`` on a grid by validation accuracy (ties to the weight
closest to 1/2). Nothing is chosen on the test part.

The classical member is fitted as the harness fits that pipeline alone on a fixed split
(FER2013: on Training, its defaults tuned on PublicTest); on a split carved out of the
training data it does not go back into training after selection, as the standalone pipeline
does. Its selection, the temperatures and the weight all use the same validation part.

The CNN's classes must be the job's (a FER2013 CNN fuses on FER2013's seven classes only); the
harness checks :meth:`LateFusion.output_classes` against them before fitting and refuses a
mismatch with one line.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..metrics import apply_temperature, fit_temperature
from ..errors import LabelSpaceError
from .base import accepts_validation, check_images
from .hybrid import checked_cnn, model_path

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "pipeline", "name": "ensemble", "target": "make_ensemble", "order": 100,
            "summary": "late fusion of a trained CNN's and fusion-svm's calibrated "
                       "probabilities, the CNN's weight chosen on the validation split (by "
                       "default the bundled FER2013 mini-Xception's)", "family": "hybrid",
            "reads_model": True}]

#: CNN weights tried on the validation part.
WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())


class LateFusion(ClassifierMixin, BaseEstimator):
    """``(N, 48, 48)`` uint8 faces -> fused class probabilities of a CNN and a classical
    pipeline.

    Parameters
    ----------
    classical : str
        A registered classical pipeline, fitted here with ``random_state``.
    model : str or None
        The CNN's model file; None: the bundled FER2013 mini-Xception.
    weights : sequence of float
        The CNN weights tried on the validation part.
    random_state : int

    Attributes
    ----------
    classical_ : estimator
        The fitted classical member.
    cnn_sha256_ : str
        Digest of the CNN file it was fitted with (another file at that path is refused).
    model_classes_ : tuple of str
        The CNN's classes, which the job's must equal.
    temperatures_ : list of float
        ``[CNN, classical]`` temperatures fitted on the validation part.
    weight_ : float
        The chosen CNN weight; ``weight_scores_`` holds each weight's validation accuracy.
    """

    def __init__(self, classical: str = "fusion-svm", model: str | None = None,
                 weights: Sequence[float] = WEIGHTS, random_state: int = 0) -> None:
        self.classical = classical
        self.model = model
        self.weights = weights
        self.random_state = random_state

    def _cnn(self):
        return checked_cnn(self.model, getattr(self, "cnn_sha256_", None), "ensemble")

    def output_classes(self) -> tuple[str, ...]:
        """The class names the fused outputs stand for: the CNN's (the harness checks them
        against the job's before fitting)."""
        return tuple(self._cnn().classes)

    def _member(self):
        from ..registry import PIPELINES

        entry = PIPELINES.get(self.classical)
        if entry.tags.get("family") != "classical":
            raise ValueError(f"ensemble: classical={self.classical!r} is not a classical "
                             f"pipeline (choose one of {', '.join(PIPELINES.names(family='classical'))})")
        return entry.load()(random_state=self.random_state)

    def _members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (self._cnn().estimator.predict_proba(X),
                np.asarray(self.classical_.predict_proba(X), dtype=float))

    def fit(self, X, y, X_val=None, y_val=None) -> "LateFusion":
        """Fit the classical member on ``(X, y)``; calibrate and weigh on ``(X_val, y_val)``
        (without one, equal weights and no temperatures)."""
        from ..modelfile import file_digest

        X = check_images(X)
        y = np.asarray(y)
        cnn = self._cnn()
        self.cnn_sha256_ = file_digest(model_path(self.model))
        self.model_classes_ = tuple(cnn.classes)
        self.classes_ = np.arange(len(cnn.classes))
        if y.size and int(y.max()) >= len(cnn.classes):  # before the classical fit, not after
            raise LabelSpaceError(f"the ensemble's CNN ({model_path(self.model)}) knows "
                                  f"{len(cnn.classes)} classes, the labels have more")
        member = self._member()
        if X_val is not None and accepts_validation(member):
            member.fit(X, y, X_val=X_val, y_val=y_val)
        else:
            member.fit(X, y)
        self.classical_ = member
        self.temperatures_, self.weight_, self.weight_scores_ = [1.0, 1.0], 0.5, []
        if X_val is not None and len(X_val):
            y_val = np.asarray(y_val)
            p_cnn, p_cls = self._members(check_images(X_val))
            self.temperatures_ = [fit_temperature(p, y_val) for p in (p_cnn, p_cls)]
            p_cnn, p_cls = (apply_temperature(p, t) for p, t in zip((p_cnn, p_cls),
                                                                     self.temperatures_))
            self.weight_scores_ = [
                (float(w), float(np.mean((w * p_cnn + (1 - w) * p_cls).argmax(1) == y_val)))
                for w in self.weights]
            best = max(s for _, s in self.weight_scores_)
            self.weight_ = min((w for w, s in self.weight_scores_ if s == best),
                               key=lambda w: abs(w - 0.5))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``(N, K)`` fused probabilities."""
        p_cnn, p_cls = self._members(check_images(X))
        t_cnn, t_cls = self.temperatures_
        return (self.weight_ * apply_temperature(p_cnn, t_cnn)
                + (1 - self.weight_) * apply_temperature(p_cls, t_cls))

    def predict(self, X) -> np.ndarray:
        """``(N,)`` labels: the argmax of :meth:`predict_proba`."""
        return self.predict_proba(X).argmax(axis=1)


def make_ensemble(classical: str = "fusion-svm", model: str | None = None,
                  weights: Sequence[float] = WEIGHTS, random_state: int = 0) -> LateFusion:
    """Late fusion of the bundled CNN (or ``model``) and ``classical``, weighed on the
    validation part."""
    return LateFusion(classical, model, tuple(weights), random_state)
