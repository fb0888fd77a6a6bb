"""Trained models: the ``.ferb`` file format and the bundled default model."""
from __future__ import annotations

import os
from pathlib import Path

from .model import FerModel
from .store import SUFFIX, ModelFileError, load_model, read_header, save_model

#: The model ``predict`` and ``demo`` use without ``--model`` (shipped as package data).
DEFAULT_MODEL = Path(__file__).resolve().parent / f"default{SUFFIX}"

#: How to make a model when there is none: the command the error messages quote.
TRAIN_HINT = "python -m fer_bench train mini-xception --dataset fer2013 --out model.ferb"

__all__ = [
    "DEFAULT_MODEL", "FerModel", "ModelFileError", "SUFFIX", "load_model", "open_model",
    "read_header", "save_model",
]


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
