"""Checkpoints and model files as flax msgpack (never pickle), written atomically.

A checkpoint is one msgpack file per run directory holding the train state (parameters, batch
statistics, optimiser state, step), the best-so-far weights, the epoch counters, plateau and early
stopping state and the history, plus a signature of the run so that a different run never resumes
from it. Model files (:func:`fer_bench.pipelines.deep.estimator.save_model`) use the same helpers.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from ...errors import FerBenchError

CHECKPOINT_NAME = "checkpoint.msgpack"


class ModelFileError(FerBenchError):
    """A checkpoint or model file is missing, corrupt, or belongs to something else."""

    def __init__(self, path: object, problem: str, fix: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {problem} ({fix})")


def to_host(tree: Any) -> Any:
    """A pytree of (possibly sharded, on-device) arrays as numpy arrays; other leaves (str,
    int, float) are kept as they are."""
    def leaf(x: Any) -> Any:
        return np.asarray(x) if isinstance(x, (jax.Array, np.ndarray, np.generic)) else x

    return jax.tree_util.tree_map(leaf, jax.device_get(tree))


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a run killed while
    writing leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a model file's bytes (a run's signature covers the weights it starts from);
    :class:`ModelFileError` when it cannot be read."""
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelFileError(path, f"cannot read model file ({exc.strerror})",
                             "pass an existing .ferb model file") from None


def dump(tree: dict) -> bytes:
    """msgpack bytes of a nested dict of arrays, numbers and strings."""
    return serialization.msgpack_serialize(serialization.to_state_dict(to_host(tree)))


def read(path: str | os.PathLike, what: str, fix: str) -> dict:
    """The nested dict stored in msgpack file ``path``; :class:`ModelFileError` if it is missing,
    truncated or not msgpack."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(path, f"{what} not found", fix) from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read {what} ({exc.strerror})", fix) from None
    try:
        tree = serialization.msgpack_restore(data)
    except Exception as exc:  # msgpack raises several unrelated types for damaged input
        raise ModelFileError(path, f"corrupt {what} ({type(exc).__name__})", fix) from None
    if not isinstance(tree, dict):
        raise ModelFileError(path, f"not a {what}", fix)
    return tree


def restore_into(target: Any, raw: Any, path: str | os.PathLike, what: str, fix: str) -> Any:
    """``raw`` (a state dict from :func:`read`) restored into the structure of ``target`` (arrays
    or ``jax.ShapeDtypeStruct``), checking that every array has the target's shape."""
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
    """Write checkpoint ``tree`` (see :mod:`.train`) to ``directory/checkpoint.msgpack``."""
    return write_atomic(checkpoint_path(directory), dump(tree))


def load_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The raw checkpoint dict in ``directory``, or None when there is none yet."""
    path = checkpoint_path(directory)
    if not path.exists():
        return None
    return read(path, "checkpoint", "delete it to start the run afresh")
