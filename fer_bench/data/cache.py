"""Decoded datasets cached as ``.npz`` under ``$FER_BENCH_CACHE``.

The key is a hash of the loader, its options and a fingerprint of the source files (relative path,
size and mtime of each), so editing, adding or removing a file invalidates the entry.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import platformdirs

from ..atomic import replacing
from .dataset import FaceDataset

ENV_VAR = "FER_BENCH_CACHE"
FORMAT_VERSION = 1

# Non-fatal notices go to this logger: with no logging configured Python prints the bare message
# on stderr (one line), and an application that configures logging gets it like any other.
log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$FER_BENCH_CACHE`` or the user cache dir (``~/.cache/fer-bench`` on Linux)."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("fer-bench"))


def fingerprint(files: Iterable[Path], base: Path) -> str:
    """Hash of (relative path, size, mtime) of every file: cheap, and changes with any edit.

    A file that cannot be stat'ed (a dangling link, a link loop) is hashed by its error number:
    the loader reports it when it reads the file, as ``datasets verify`` does.
    """
    h = hashlib.sha256()
    for f in sorted(files):
        rel = f.relative_to(base)
        try:
            st = f.stat()
        except OSError as exc:
            h.update(f"{rel}\0unreadable {exc.errno}\n".encode())
            continue
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def key_for(loader: str, source: Path | None, options: dict, files_hash: str) -> str:
    payload = json.dumps(
        {"v": FORMAT_VERSION, "loader": loader, "source": str(source and source.resolve()),
         "options": options, "files": files_hash}, sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _save(ds: FaceDataset, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "labels": ds.labels, "paths": ds.paths.astype(str),
        "meta": np.array(json.dumps(ds.meta, default=str)), "name": np.array(ds.name),
    }
    if ds.uniform:
        arrays["images"] = ds.images
    else:  # ragged sizes: one flat buffer plus shapes (object arrays would need pickle)
        arrays["flat"] = (np.concatenate([im.ravel() for im in ds.images]) if len(ds)
                          else np.zeros(0, np.uint8))
        arrays["shapes"] = np.array([im.shape for im in ds.images], dtype=np.int64).reshape(-1, 2)
    for attr in ("subjects", "splits"):
        if getattr(ds, attr) is not None:
            arrays[attr] = getattr(ds, attr).astype(str)
    with replacing(path, suffix=".npz") as tmp:  # a killed run never leaves half an entry
        # uncompressed: 48x48 faces barely compress, and zlib costs ~0.4 s a load
        np.savez(tmp, **arrays)


def _load(path: Path) -> FaceDataset:
    with np.load(path, allow_pickle=False) as z:
        if "images" in z:
            images = z["images"]
        else:
            flat, shapes = z["flat"], z["shapes"]
            ends = np.cumsum(shapes.prod(axis=1))
            images = np.empty(len(shapes), dtype=object)
            for i, (shape, end) in enumerate(zip(shapes, ends)):
                images[i] = flat[end - shape.prod():end].reshape(shape)
        return FaceDataset(
            name=str(z["name"]), images=images, labels=z["labels"], paths=z["paths"],
            subjects=z["subjects"] if "subjects" in z else None,
            splits=z["splits"] if "splits" in z else None,
            meta=json.loads(str(z["meta"])),
        )


def discard_entry(path: Path, exc: BaseException) -> None:
    """Delete the unreadable cache entry ``path`` (a file or a folder) and say so in one line.

    A cache only saves time, so an entry that cannot be read (cut short by a full disk or a
    crash, zero bytes, overwritten) is never fatal: the caller rebuilds it.
    """
    exc = exc.__cause__ or exc  # joblib wraps the real error in a KeyError repeating the path
    reason = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(": ")[:200]
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        done = "deleted"
    except OSError as err:  # a read-only cache: rebuilt every run, which only costs time
        done = f"not deletable ({err.strerror or err})"
    log.warning("%s: damaged cache entry (%s), %s; rebuilding it", path, reason, done)


def cached(key: str, build: Callable[[], FaceDataset], enabled: bool = True) -> FaceDataset:
    """Load the dataset cached under ``key``, or build, store and return it.

    An entry that fails to load for any reason is deleted with a one-line notice and rebuilt.
    """
    path = cache_dir() / "datasets" / f"{key}.npz"
    if enabled and path.exists():
        try:
            return _load(path)
        except Exception as exc:  # BadZipFile, EOFError, zlib.error ...: all mean damaged
            discard_entry(path, exc)
    ds = build()
    if enabled:
        try:
            _save(ds, path)
        except OSError:
            pass  # a read-only cache dir only costs speed
    return ds
