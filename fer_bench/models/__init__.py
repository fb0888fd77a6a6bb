"""Trained models: :class:`FerModel` to and from ``.ferb`` files, and the bundled default model.

The file format itself lives in :mod:`fer_bench.modelfile`; this package turns its contents into
a usable model (a classical estimator as skops rebuilt it, or a CNN estimator built from its
weights) and back.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..modelfile import SUFFIX, CNNWeights, read_header, read_model, write_model
from .model import FerModel

#: The model ``predict`` and ``demo`` use without ``--model`` (shipped as package data).
DEFAULT_MODEL = Path(__file__).resolve().parent / f"default{SUFFIX}"

#: How to make a model when there is none: the command the error messages quote.
TRAIN_HINT = "python -m fer_bench train mini-xception --dataset fer2013 --out model.ferb"

__all__ = [
    "DEFAULT_MODEL", "FerModel", "ModelFileError", "SUFFIX", "load_model", "open_model",
    "read_header", "save_model",
]


def save_model(model: FerModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` as a ``.ferb`` file; returns the path written.

    Raises :class:`ModelFileError` if the folder cannot be written or a classical pipeline holds
    a type a model file may not (see :data:`fer_bench.modelfile.TRUSTED_TYPES`).
    """
    weights = model.estimator.to_weights() if model.family == "deep" else model.estimator
    path = write_model(path, family=model.family, classes=list(model.classes),
                       face=dict(model.face), provenance=model.provenance, weights=weights)
    model.path = path
    return path


def load_model(path: str | os.PathLike) -> FerModel:
    """The :class:`FerModel` in the ``.ferb`` file at ``path``.

    Raises :class:`ModelFileError` (one line, naming ``path``) for a missing, damaged, tampered
    or foreign file (see :func:`fer_bench.modelfile.read_model`).
    """
    contents = read_model(path)
    estimator = contents.weights
    if isinstance(estimator, CNNWeights):
        from ..pipelines.deep.estimator import CNNClassifier  # JAX only for deep models

        estimator = CNNClassifier.from_weights(estimator, source=contents.path)
    h = contents.header
    model = FerModel(estimator=estimator, classes=tuple(h["classes"]), face=dict(h["face"]),
                     family=h["family"], provenance=dict(h.get("provenance") or {}),
                     path=contents.path)
    _probe(model)
    return model


def _probe(model: FerModel) -> None:
    """Run the loaded model once on a blank face, so weights that do not fit together (an
    array of another shape, a setting the estimator refuses) fail here, as one line naming the
    file, rather than as a traceback at the first prediction."""
    estimator, n = model.estimator, len(model.estimator.classes_)
    fix = "the file is damaged or not a model fer-bench wrote; train it again"
    try:
        proba = np.asarray(estimator.predict_proba(np.zeros((1, model.size, model.size),
                                                            np.uint8)), dtype=np.float64)
    except Exception as exc:  # whatever a mismatched estimator raises
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ModelFileError(model.path, f"the model fails on a blank face ({detail})",
                             fix) from None
    if proba.shape != (1, n) or not np.isfinite(proba).all():
        raise ModelFileError(model.path, f"the model gives {proba.shape[-1]} scores for {n} "
                             "classes" if proba.shape[-1:] != (n,) else
                             "the model gives non-finite scores", fix)


def open_model(path: str | os.PathLike | None = None) -> FerModel:
    """The model at ``path``, or the bundled default when ``path`` is None.

    Raises :class:`ModelFileError` saying how to train one when the default is not installed.
    """
    if path is not None:
        return load_model(path)
    if not DEFAULT_MODEL.is_file():
        raise ModelFileError(
            DEFAULT_MODEL, "no bundled default model in this installation",
            f"train one with `{TRAIN_HINT}` and pass --model model.ferb",
        )
    return load_model(DEFAULT_MODEL)
