"""A new pipeline in one file: HOG -> standardise -> multinomial logistic regression."""
from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fer_bench.pipelines.features import HogFeatures

PLUGINS = [{"kind": "pipeline", "name": "hog-logreg", "target": "make_hog_logreg",
            "family": "classical", "summary": "HOG -> logistic regression (a plug-in example)"}]


def make_hog_logreg(C: float = 0.1, random_state: int = 0) -> Pipeline:
    """HOG at its tuned settings -> standardise -> logistic regression with inverse strength
    ``C``, on ``(N, 48, 48)`` uint8 faces."""
    return Pipeline([("hog", HogFeatures()),
                     ("scale", StandardScaler()),
                     ("clf", LogisticRegression(C=C, max_iter=1000, random_state=random_state))])
