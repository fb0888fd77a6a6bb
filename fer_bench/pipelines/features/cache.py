"""The base of every feature extractor: stateless, validated input, transform cached on disk.

An extractor's ``transform`` goes through :class:`joblib.Memory` under
``fer_bench.data.cache.cache_dir() / "features"``, keyed by the extractor class, its
``_version``, its parameters and a hash of ``X`` (joblib hashes arrays by content), so a rerun
of a benchmark or a grid search over the classifier does not recompute features.
"""
from __future__ import annotations

import numpy as np
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin

from ...data.cache import cache_dir

#: Smaller batches are computed directly: caching a demo's single frame would only fill the disk.
MIN_CACHED_ROWS = 256


def check_images(X) -> np.ndarray:
    """``X`` as an ``(N, H, W)`` uint8 array; a clear ``ValueError`` for anything else.

    Parameters
    ----------
    X : array-like of shape (N, H, W)
        Grayscale face crops (the face stage's output), uint8 or values in [0, 255].
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.dtype == object:
        raise ValueError(
            f"expected face crops of shape (N, H, W), got an array of shape {X.shape} "
            f"({X.dtype}); run the images through fer_bench.face.FaceStage first"
        )
    if X.dtype != np.uint8:
        X = np.clip(np.rint(X), 0, 255).astype(np.uint8)
    return X


def _extract_uncached(cls: type, version: int, params: dict, X: np.ndarray) -> np.ndarray:
    # ``version`` only takes part in the cache key: bumping it invalidates stale entries.
    return cls(**params, cache=False)._extract(X)


class CachedExtractor(TransformerMixin, BaseEstimator):
    """Base class: subclasses take their settings plus ``cache`` as constructor parameters and
    implement ``_extract(X: (N, H, W) uint8) -> (N, D) float32``.

    ``fit`` learns nothing, so the same extractor can be shared by train and test data and
    tuned by ``GridSearchCV`` through its constructor parameters.
    """

    #: Bump when the extraction code changes, so cached features are recomputed.
    _version = 1

    def fit(self, X, y=None):
        check_images(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Features of shape ``(N, D)`` float32."""
        X = check_images(X)
        if not getattr(self, "cache", True) or len(X) < MIN_CACHED_ROWS:
            return self._extract(X)
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "cache"}
        memory = Memory(cache_dir() / "features", verbose=0)
        return memory.cache(_extract_uncached)(type(self), self._version, params, X)

    def _extract(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
