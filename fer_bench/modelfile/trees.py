"""Nested dicts of arrays as flax msgpack: the encoding of deep weights and of CNN training
checkpoints, restored holding nothing but numeric arrays, numbers and strings."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes
from ..errors import ModelFileError
from . import CHECKPOINT_NAME


def to_host(tree: Any) -> Any:
    """A pytree of (possibly sharded, on-device) arrays as numpy arrays; other leaves (str,
    int, float) are kept as they are."""
    import jax

    def leaf(x: Any) -> Any:
        return np.asarray(x) if isinstance(x, (jax.Array, np.ndarray, np.generic)) else x

    return jax.tree_util.tree_map(leaf, jax.device_get(tree))


def dump(tree: dict) -> bytes:
    """msgpack bytes of a nested dict of arrays, numbers and strings."""
    from flax import serialization

    return serialization.msgpack_serialize(serialization.to_state_dict(to_host(tree)))


def _restore(path: Path, data: bytes, what: str, fix: str) -> dict:
    from flax import serialization

    try:
        tree = serialization.msgpack_restore(data)
    except Exception as exc:  # msgpack raises several unrelated types for damaged input
        raise ModelFileError(path, f"corrupt {what} ({type(exc).__name__})", fix) from None
    if not isinstance(tree, dict):
        raise ModelFileError(path, f"not a {what}", fix)
    bad = _foreign_leaf(tree)
    if bad:
        raise ModelFileError(path, f"{what} hold {bad}; only numeric arrays, numbers and "
                             "strings are allowed", fix)
    return tree


def _foreign_leaf(tree: Any) -> str | None:
    """The first leaf that is not a numeric array / number / string (None when all are)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not all(isinstance(k, str) for k in node):
                return "a non-string key"
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, (np.ndarray, np.generic)):
            if node.dtype.kind not in "fiub" and node.dtype.name != "bfloat16":
                return f"an array of dtype {node.dtype}"
        elif not isinstance(node, (str, int, float, bool, type(None))):
            return f"a {type(node).__name__}"
    return None


def restore_into(target: Any, raw: Any, path: str | os.PathLike, what: str, fix: str) -> Any:
    """``raw`` (a state dict from a checkpoint or :class:`CNNWeights`) restored into the
    structure of ``target`` (arrays or ``jax.ShapeDtypeStruct``), checking every shape."""
    import jax
    from flax import serialization

    if not isinstance(raw, dict):
        raise ModelFileError(path, f"{what} holds no weights", fix)
    try:
        restored = serialization.from_state_dict(target, raw)
    except Exception as exc:  # flax raises ValueError/KeyError/TypeError for mismatches
        raise ModelFileError(path, f"{what} does not match the model ({exc})", fix) from None
    shape = lambda a: tuple(getattr(a, "shape", np.shape(a)))  # noqa: E731 (arrays or specs)
    if jax.tree_util.tree_map(shape, target) != jax.tree_util.tree_map(shape, restored):
        raise ModelFileError(path, f"{what} has arrays of the wrong shape", fix)
    return restored


def checkpoint_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(directory: str | os.PathLike, tree: dict) -> Path:
    """Write checkpoint ``tree`` (see ``pipelines.deep.checkpoint``) to
    ``directory/checkpoint.msgpack`` atomically."""
    return write_bytes(checkpoint_path(directory), dump(tree))


def load_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The raw checkpoint dict in ``directory``, or None when there is none yet;
    :class:`ModelFileError` if it is unreadable, truncated or not a checkpoint."""
    path = checkpoint_path(directory)
    fix = "delete it to start the run afresh"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read checkpoint ({exc.strerror})", fix) from None
    return _restore(path, data, "checkpoint", fix)
