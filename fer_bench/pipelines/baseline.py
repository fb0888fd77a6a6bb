"""The baseline pipeline: pixels -> standardise -> PCA -> multinomial logistic regression."""
from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .base import Flatten
from .features.reduce import CappedPCA

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "pipeline", "name": "pca-logreg", "target": "make_pca_logreg", "order": 10,
            "summary": "pixels -> PCA -> logistic regression (the baseline)",
            "family": "classical"}]


def make_pca_logreg(n_components: int = 100, C: float = 1.0, random_state: int = 0) -> Pipeline:
    """Baseline estimator on ``(N, 48, 48)`` uint8 faces.

    PCA keeps ``n_components`` whitened components (capped for small training sets by
    :class:`CappedPCA`); ``C`` is the inverse L2 strength of the logistic regression.
    """
    return Pipeline([
        ("pixels", Flatten()),
        ("scale", StandardScaler()),
        ("pca", CappedPCA(n_components, whiten=True, random_state=random_state)),
        ("clf", LogisticRegression(C=C, max_iter=500)),
    ])
