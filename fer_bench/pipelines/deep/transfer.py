"""Initialising a CNN from a trained one (e.g. CK+ folds from the FER2013 model).

Every layer but the classifier is copied; the classifier (the layer the model declares as its
head, see :func:`head_name`; its width is the number of classes) keeps its fresh initialisation,
because the two label sets need not match (CK+ has contempt, FER2013 has neutral). Batch-norm
statistics are copied with their layers.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import numpy as np
from flax import linen as nn

from ... import modelfile
from ...errors import FerBenchError
from .networks import HEAD


#: Bump when what ``init_from`` keeps changes. 2: the classifier is found by its declared name;
#: before, the last layer of the (name-sorted) parameters was taken for it, which for
#: mini-Xception kept the source's classifier and re-initialised its last separable conv.
TRANSFER_VERSION = 2


def head_name(model: nn.Module) -> str:
    """Name of ``model``'s classifier layer in its ``params``: the layer its ``head`` attribute
    names, or :data:`~.networks.HEAD` for a network without one."""
    return getattr(model, "head", HEAD)


def transfer_backbone(fresh: dict, source: dict, head: str,
                      source_name: str = "the source model") -> dict:
    """``fresh`` variables (``{"params", "batch_stats"}``) with every layer except the classifier
    ``head`` (see :func:`head_name`) replaced by ``source``'s.

    Raises :class:`FerBenchError` when the two differ in anything but the classifier (another
    architecture or width).
    """
    if head not in fresh["params"]:
        raise FerBenchError(f"the model has no classifier layer {head!r} (its layers: "
                            f"{', '.join(fresh['params'])}); name the classifier {HEAD!r} or "
                            "declare its name in the network's head attribute")
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


def initialiser_from(path: str, arch: str, head: str) -> Callable[[dict], dict]:
    """The map from a fresh ``arch`` network's variables to the starting ones: its backbone from
    model file ``path`` (which must hold an ``arch`` CNN), its classifier ``head`` fresh."""
    source = modelfile.read_model(path).weights
    if not isinstance(source, modelfile.CNNWeights):
        raise FerBenchError(f"{path}: holds a classical pipeline, not a CNN; pass a deep model "
                            "file as init_from")
    if source.arch != arch:
        raise FerBenchError(f"{path}: a {source.arch} model cannot initialise a {arch}; pass a "
                            f"{arch} model file as init_from")
    return partial(transfer_backbone, source=source.variables, head=head, source_name=str(path))


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
