"""Deep weights: a fitted CNN as plain data (:class:`CNNWeights`), stored as flax msgpack."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelFileError
from . import _DAMAGED
from .header import _is_int, _jsonable
from .trees import _restore, dump


@dataclass
class CNNWeights:
    """A fitted CNN as plain data: what a deep ``.ferb`` stores.

    Attributes
    ----------
    arch : str
        Architecture name (a key of ``fer_bench.pipelines.deep.networks.ARCHITECTURES``).
    params : dict
        The estimator's constructor parameters.
    classes : ndarray of shape (K,)
        The estimator's ``classes_`` (label indices into the model file's class names).
    variables : dict
        ``{"params": ..., "batch_stats": ...}`` as nested dicts of numpy arrays.
    history : list of dict
        Per-epoch training history.
    best_epoch : int
        The epoch whose weights these are.
    selection : dict
        Choices ``fit`` made on the validation split after training, e.g. ``{"tta": "flip",
        "tta_val_accuracy": {...}}`` for ``tta="auto"`` (empty when none).
    """

    arch: str
    params: dict
    classes: np.ndarray
    variables: dict
    history: list = field(default_factory=list)
    best_epoch: int = 0
    selection: dict = field(default_factory=dict)


_CNN_FORMAT = "fer-bench-cnn"
_CNN_VERSION = 1


def dump_deep(w: CNNWeights) -> bytes:
    """``w`` as the bytes of a deep model file's weights member (flax msgpack: numbers and
    strings only), also how a CNN is kept inside another model (the ensemble's fine-tuned
    members)."""
    params = dict(w.params, checkpoint_dir=None)  # a machine-local path means nothing elsewhere
    return dump({
        "format": _CNN_FORMAT, "version": _CNN_VERSION, "arch": w.arch,
        "params": json.dumps(params, default=str),
        "classes": json.dumps(np.asarray(w.classes).tolist()),
        "history": json.dumps(w.history, default=_jsonable),
        "best_epoch": int(w.best_epoch), "variables": w.variables,
        "selection": json.dumps(w.selection, default=_jsonable),
    })


def load_deep(path: str | os.PathLike, blob: bytes) -> CNNWeights:
    """The :class:`CNNWeights` of :func:`dump_deep`'s bytes, restored without running anything
    they name; :class:`ModelFileError` naming ``path`` when they are not such weights."""
    tree = _restore(path, blob, "deep weights", _DAMAGED)
    if tree.get("format") != _CNN_FORMAT or tree.get("version") != _CNN_VERSION:
        raise ModelFileError(path, "the deep weights are not fer-bench CNN weights", _DAMAGED)
    try:
        params = json.loads(tree["params"])
        classes = np.asarray(json.loads(tree["classes"]))
        history = json.loads(tree["history"])
        arch, variables, best = tree["arch"], tree["variables"], tree.get("best_epoch", 0)
        selection = json.loads(tree.get("selection", "{}"))  # absent from older files
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"deep weights metadata is damaged ({exc})", _DAMAGED) from None
    if (not isinstance(params, dict) or not isinstance(arch, str) or params.get("arch") != arch
            or not isinstance(variables, dict) or not isinstance(history, list)
            or not _is_int(best) or not isinstance(selection, dict)):
        raise ModelFileError(path, "deep weights metadata is inconsistent", _DAMAGED)
    return CNNWeights(arch=arch, params=params, classes=classes, variables=variables,
                      history=history, best_epoch=int(best), selection=selection)
