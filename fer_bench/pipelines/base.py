"""The pipeline contract every registered pipeline (classical or deep) follows.

A pipeline is a scikit-learn estimator built by a registered factory ``make_x(**params)``:

* ``fit(X, y)`` with ``X`` of shape ``(N, 48, 48)`` uint8 face crops (the face stage's output)
  and ``y`` of shape ``(N,)`` integer labels ``0..K-1`` of the run's label view. Estimators that
  can use a validation set for model selection (early stopping, ...) also accept
  ``fit(X, y, X_val=..., y_val=...)``; the harness passes the protocol's validation split to those
  only, never the test split.
* ``predict(X) -> (N,)`` and ``predict_proba(X) -> (N, K)``, with ``classes_`` ``== arange(K)``.
* ``get_params`` / ``set_params`` / ``clone`` work (plain constructor parameters, no work in
  ``__init__``), so pipelines compose with ``Pipeline`` and ``GridSearchCV``.
* Seeded: the same ``random_state`` gives bit-identical classical predictions.
"""
from __future__ import annotations

import hashlib
import inspect
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ImageError, LabelSpaceError


def check_images(X: ArrayLike, what: str = "X", size: int | None = None) -> np.ndarray:
    """``X`` as the contract's ``(N, H, W)`` uint8 face crops, or one-line :class:`ImageError`.

    Every pipeline's entry point (feature extractors, CNNs, ensembles) checks its input with
    this, so classical features and CNN inputs see the same pixels.

    Parameters
    ----------
    X : array-like of shape (N, H, W) or (N, H, W, 1)
        Grayscale face crops (the face stage's output): uint8, or other real numbers on the
        0..255 scale, rounded and clipped to uint8. A trailing channel axis of 1 is dropped.
    what : str
        The argument's name in the messages (``"X_val"``, ...).
    size : int or None
        Required height and width (CNNs need 48x48); None accepts any.

    Returns
    -------
    ndarray of shape (N, H, W), uint8: ``X`` uncopied when it already is one (the feature
    cache's key, joblib's hash, depends on the memory layout too)
    """
    X = np.asarray(X)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    expected = "(N, H, W)" if size is None else f"(N, {size}, {size})"
    if X.ndim != 3 or (size is not None and X.shape[1:] != (size, size)):
        resize = "" if size is None else f" (which resizes them to {size}x{size})"
        raise ImageError(f"{what} has shape {X.shape}, expected {expected} grayscale face "
                         f"crops; run the images through fer_bench.face.FaceStage{resize} first")
    if len(X) == 0:
        raise ImageError(f"{what} holds no images; pass at least one face crop")
    if X.dtype != np.uint8:
        # Booleans, complex numbers, strings and objects are no pixel values: refused rather
        # than cast to something plausible-looking (True would become a near-black 1).
        if X.dtype.kind not in "uif":
            raise ImageError(f"{what} has dtype {X.dtype}, expected uint8 pixels (or numbers "
                             "on the 0..255 scale); convert the images with "
                             "fer_bench.data.io.to_gray_uint8 first")
        X = np.clip(np.rint(X), 0, 255).astype(np.uint8)
    return X


class Flatten(TransformerMixin, BaseEstimator):
    """``(N, H, W)`` uint8 images -> ``(N, H*W)`` float32 pixels scaled to [0, 1]."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless: usable (and a Pipeline ending in it is) without fit

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X)
        return X.reshape(len(X), -1).astype(np.float32) / 255.0


_SHARED_SCORES: ContextVar[dict | None] = ContextVar("shared_scores", default=None)


@contextmanager
def shared_scores() -> Iterator[None]:
    """Within the block, an estimator whose ``predict`` and ``predict_proba`` share one
    expensive computation (a kernel SVM's decision values) may do it once per input: the
    harness scores a test set with both. Outside it (benchmarks, latency timing) every call
    computes afresh."""
    token = _SHARED_SCORES.set({})
    try:
        yield
    finally:
        _SHARED_SCORES.reset(token)


def shared_result(owner: tuple, X: np.ndarray, compute: Callable[[], np.ndarray]
                  ) -> np.ndarray:
    """``compute()`` (an array computed from ``X``), done once per ``owner`` (what identifies
    the fitted computation, e.g. ``(id(self.svc_),)``) and input inside a :func:`shared_scores`
    block, every call outside one. Returns a copy the caller may change."""
    memo = _SHARED_SCORES.get()
    if memo is None:
        return compute()
    X = np.ascontiguousarray(X)
    h = hashlib.blake2b(repr((owner, X.shape, X.dtype.str)).encode(), digest_size=16)
    h.update(X.data)
    key = h.digest()
    if key not in memo:
        memo[key] = compute()
    return memo[key].copy()


def accepts_validation(estimator) -> bool:
    """Whether ``estimator.fit`` takes ``X_val`` / ``y_val`` (deep pipelines do)."""
    return "X_val" in inspect.signature(estimator.fit).parameters


def label_columns(proba: ArrayLike, seen: ArrayLike, k: int) -> np.ndarray:
    """``(N, len(seen))`` probabilities of the labels ``seen`` as ``(N, k)`` float64: a column
    per label ``0 .. k-1``, zero for a label the estimator never saw in training."""
    proba = np.asarray(proba, dtype=np.float64)
    seen = np.asarray(seen, dtype=np.int64)
    if proba.shape[1] == k and np.array_equal(seen, np.arange(k)):
        return proba
    out = np.zeros((len(proba), k))
    out[:, seen] = proba
    return out


def check_label_space(model_classes, wanted_classes, what: str = "model") -> None:
    """Raise :class:`LabelSpaceError` unless a model fitted on ``model_classes`` can answer
    for ``wanted_classes`` (same class names in the same order)."""
    if tuple(model_classes) != tuple(wanted_classes):
        raise LabelSpaceError(
            f"{what} was fitted on classes {list(model_classes)} but asked to predict "
            f"{list(wanted_classes)}; refit it with the same --view or dataset classes"
        )
