"""The base of every feature extractor: stateless, validated input, transform cached on disk.

An extractor's ``transform`` goes through :class:`joblib.Memory` under
``fer_bench.data.cache.cache_dir() / "features"``, keyed by the extractor class, its
``_version``, its parameters and a hash of ``X`` (joblib hashes arrays by content), so a rerun
of a benchmark or a grid search over the classifier does not recompute features. An entry that
cannot be read back (a truncated ``output.pkl``) is deleted with a one-line notice and recomputed.
"""
from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin

from ...data.cache import cache_dir, discard_entry
from ..base import check_images

#: Smaller batches are computed directly: caching a demo's single frame would only fill the disk.
MIN_CACHED_ROWS = 256


def _extract_uncached(cls: type, version: int, params: dict, x_hash: str, X: np.ndarray
                      ) -> np.ndarray:
    # ``version`` and ``x_hash`` only make the cache key (``X`` itself is ignored by it, so the
    # pixels are hashed once per call): bumping ``version`` invalidates stale entries.
    return cls(**params, cache=False)._extract(X)


def cached_extract(cls: type, version: int, params: dict, X: np.ndarray) -> np.ndarray:
    """``cls(**params)._extract(X)`` through the on-disk feature cache.

    joblib would recompute a damaged entry too, but only after a warning with a full traceback
    and the repr of ``X``; here it is deleted with one line (see
    :func:`~fer_bench.data.cache.discard_entry`) and recomputed.
    """
    func = Memory(cache_dir() / "features", verbose=0).cache(_extract_uncached, ignore=["X"])
    args = (cls, version, params, joblib.hash(X), X)
    if func.check_call_in_cache(*args):
        shelved = func.call_and_shelve(*args)  # in the cache: a reference, nothing computed
        try:
            out = shelved.get()
            if not (isinstance(out, np.ndarray) and out.ndim == 2 and len(out) == len(X)):
                raise ValueError(f"holds {type(out).__name__} {np.shape(out)}, "
                                 f"expected ({len(X)}, D) features")
            return out
        except Exception as exc:  # truncated pickle, EOF, wrong content ...: recompute
            discard_entry(Path(shelved.store_backend.location, shelved.func_id, shelved.args_id),
                          exc)
    return func(*args)


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
        return cached_extract(type(self), self._version, params, X)

    def _extract(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
