"""Photometric normalisation of face crops inside a pipeline (tunable, unlike the face stage's)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ...face.stage import equalize
from ..base import check_images


class Equalize(TransformerMixin, BaseEstimator):
    """``(N, H, W)`` uint8 crops -> the same, histogram-equalised per image.

    Parameters
    ----------
    method : {None, "hist", "clahe"}
        See :func:`fer_bench.face.stage.equalize`; ``None`` passes crops through.
    """

    def __init__(self, method: str | None = "hist") -> None:
        self.method = method

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = check_images(X)
        if self.method is None:
            return X
        if len(X) == 0:
            return X
        return np.stack([equalize(np.ascontiguousarray(x), self.method) for x in X])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
