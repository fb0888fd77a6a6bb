"""Initialising a CNN from a trained one (e.g. CK+ folds from the FER2013 model).

Every layer but the classifier is copied; the classifier (the model's last layer, whose width is
the number of classes) keeps its fresh initialisation, because the two label sets need not
match (CK+ has contempt, FER2013 has neutral). Batch-norm statistics are copied with their
layers.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ...errors import FerBenchError


def head_name(params: dict) -> str:
    """Name of the classifier in a model's ``params``: the last layer the model created (Flax
    keeps creation order; every architecture here ends with its classifier)."""
    return list(params)[-1]


def transfer_backbone(fresh: dict, source: dict, source_name: str = "the source model"
                      ) -> dict:
    """``fresh`` variables (``{"params", "batch_stats"}``) with every layer except the classifier
    replaced by ``source``'s.

    Raises :class:`FerBenchError` when the two differ in anything but the classifier (another
    architecture or width).
    """
    head = head_name(fresh["params"])
    out = {}
    for collection in ("params", "batch_stats"):
        mine, theirs = dict(fresh.get(collection, {})), source.get(collection, {})
        for name in mine:
            if collection == "params" and name == head:
                continue
            if name not in theirs:
                raise FerBenchError(f"{source_name} has no layer {name!r}: it is another "
                                    "architecture; initialise from a model of the same one")
            mine[name] = _same_shapes(mine[name], theirs[name], f"{collection}/{name}",
                                      source_name)
        out[collection] = mine
    return out


def _same_shapes(fresh: Any, source: Any, where: str, source_name: str) -> Any:
    try:
        return jax.tree_util.tree_map(
            lambda f, s: _checked(f, s, where, source_name), fresh, source)
    except ValueError as exc:  # tree structures differ
        raise FerBenchError(f"{source_name}: layer {where} differs ({exc}); initialise from a "
                            "model of the same architecture") from None


def _checked(fresh: Any, source: Any, where: str, source_name: str) -> np.ndarray:
    source = np.asarray(source)
    if np.shape(fresh) != source.shape:
        raise FerBenchError(
            f"{source_name}: layer {where} has shape {source.shape}, this model needs "
            f"{np.shape(fresh)}; initialise from a model of the same architecture and width")
    return source.astype(np.asarray(fresh).dtype)
