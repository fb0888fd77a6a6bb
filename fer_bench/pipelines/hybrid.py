"""Classical + deep hybrids: a trained CNN's penultimate features into the classical SVM head.

The thesis's survey cites replacing a CNN's softmax by an SVM (Tang 2013). ``cnn-svm`` takes the
features a trained CNN computes just before its classifier -- by default those of the bundled
FER2013 mini-Xception (``fer_bench/models/default.ferb``, fit on Training, selected on
PublicTest), reused as it is, never retrained -- standardises them and fits the same RBF SVM
head as the classical pipelines (``C`` and the kernel width selected on a small training set's
validation split, :class:`~fer_bench.pipelines.select.ValidatedPipeline`).

A CNN trained on a dataset has seen its images, so its features may not be scored on them: the
harness refuses a job whose test images include the CNN's training images (see
:func:`fer_bench.harness.fit.check_pretrained`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from .base import check_images
from .classical import MAX_SEARCH_SAMPLES, _svm, _svm_pipeline
from .features.cache import MIN_CACHED_ROWS, CachedExtractor, cached_extract

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "pipeline", "name": "cnn-svm", "target": "make_cnn_svm", "order": 90,
            "summary": "a trained CNN's penultimate features -> RBF SVM (by default the "
                       "bundled FER2013 mini-Xception's)", "family": "hybrid",
            "reads_model": True}]


def model_path(model: str | None) -> Path:
    """The model file a hybrid reads: ``model``, or the bundled default when None."""
    from ..models import DEFAULT_MODEL

    return Path(model) if model is not None else DEFAULT_MODEL


def model_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Model file paths as a tuple: ``"a.ferb,b.ferb"`` (as ``--param`` may give it) -> both,
    None -> ``()``."""
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return tuple(p.strip() for p in str(value).split(",") if p.strip())
    return tuple(str(p) for p in value)


@lru_cache(maxsize=16)  # an ensemble of several CNNs beside cnn-svm's in one worker
def load_cnn(path: str, digest: str):
    """The :class:`~fer_bench.models.FerModel` of the CNN file ``path`` (whose SHA-256 is
    ``digest``: the cache key), loaded once per process. Raises
    :class:`~fer_bench.errors.ModelFileError` when the file holds no CNN."""
    from ..errors import ModelFileError
    from ..models import load_model

    model = load_model(path)
    if model.family != "deep" or not hasattr(model.estimator, "embed"):
        raise ModelFileError(path, "holds no CNN", "give the hybrid a deep model file (a CNN "
                             "trained by `train` or `run`)")
    return model


def checked_cnn(model: str | None, expected: str | None, hybrid: str):
    """The CNN file ``model`` (None: the bundled one) as a FerModel, refused with a one-line
    :class:`~fer_bench.errors.ModelFileError` when a fitted ``hybrid`` recorded another
    SHA-256 (``expected``) for it: the file at that path was replaced since the fit."""
    from ..errors import ModelFileError
    from ..modelfile import file_digest

    path = model_path(model)
    digest = file_digest(path)
    if expected is not None and digest != expected:
        raise ModelFileError(path, f"is not the CNN this {hybrid} was fitted with (its SHA-256 "
                             "differs)", f"fit the {hybrid} again on this CNN")
    return load_cnn(str(path), digest)


class CNNFeatures(CachedExtractor):
    """``(N, 48, 48)`` uint8 faces -> ``(N, D)`` penultimate features of a trained CNN.

    Parameters
    ----------
    model : str or None
        A deep model file; None: the bundled FER2013 mini-Xception (128 features).
    cache : bool
        Cache features on disk, keyed by the model file's content as well (see
        :mod:`.features.cache`).
    """

    def __init__(self, model: str | None = None, cache: bool = True) -> None:
        self.model = model
        self.cache = cache

    def fit(self, X, y=None):
        """Check the faces and remember the CNN file's digest: a model kept with these features
        refuses to run on another file at that path."""
        from ..modelfile import file_digest

        check_images(X)
        self.cnn_sha256_ = file_digest(model_path(self.model))
        return self

    def _cnn(self):
        return checked_cnn(self.model, getattr(self, "cnn_sha256_", None), "cnn-svm").estimator

    def _extract(self, X: np.ndarray) -> np.ndarray:
        return self._cnn().embed(X)

    def transform(self, X) -> np.ndarray:
        from ..modelfile import file_digest

        X = check_images(X)
        self._cnn()  # the right CNN, or a one-line error, before any cache is read
        if not self.cache or len(X) < MIN_CACHED_ROWS:
            return self._extract(X)
        # The weights' digest joins the cache key (through the version slot, which only keys):
        # a new file at the same path is new features.
        digest = file_digest(model_path(self.model))
        return cached_extract(type(self), (self._version, digest), {"model": self.model}, X)


# C 1: the bundled CNN's 128 features of a stratified 8,000-image Training subset, standardised,
# SVM scored on PublicTest: C 0.3 60.7 %, 1 61.4 %, 3 61.6 %, 10 60.8 % (a tie within the 0.8
# point standard error between 1 and 3: the softer margin kept); the CNN's own softmax scores
# 63.3 % there. The features are not reduced (128 dimensions).
def make_cnn_svm(model: str | None = None, C: float = 1.0, gamma: float | str = "scale",
                 gamma_factor: float = 1.0, class_weight=None, temperature: float = 1.0,
                 class_names: Sequence[str] | None = None, random_state: int = 0,
                 max_search_samples: int = MAX_SEARCH_SAMPLES):
    """A trained CNN's penultimate features -> standardised -> RBF SVM."""
    return _svm_pipeline([
        ("cnn", CNNFeatures(model)),
        ("scale", StandardScaler()),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)
