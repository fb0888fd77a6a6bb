"""Shared loader plumbing: walking class folders, decoding many files, stacking and caching.

Every loader follows one error policy: with ``errors=None`` the first problem raises its
:class:`~fer_bench.errors.DataError`; with a list, each problem is appended and the offending file
or folder skipped, so ``datasets verify`` can list all of them at once.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import DataError, DatasetNotFound
from .cache import cached, fingerprint, key_for
from .dataset import FaceDataset
from .io import IMAGE_EXTENSIONS, link_error, read_gray
from .labels import CLASSES, SYNONYMS, canonical_label

#: Every extension OpenCV's readers handle (io's list plus the rarer ones). A file with a rarer
#: one is still read when its content is one of io's formats (a ``.jpe`` JPEG) and refused by
#: name otherwise (HDR, GIF, ...), where skipping it as "not an image" would lose it silently.
IMAGE_SUFFIXES = IMAGE_EXTENSIONS | frozenset(
    {".jpe", ".jp2", ".dib", ".pnm", ".pfm", ".sr", ".ras", ".hdr", ".pic", ".avif", ".gif"}
)
# Operating-system droppings that are never data and never worth a report.
_JUNK = frozenset({"thumbs.db", "desktop.ini", "__macosx"})
# Threads only pay off when decoding dominates; for tiny files (FER2013's ~1.5 kB JPEGs) the
# Python part of read_gray holds the GIL and threads run slower than one loop.
_THREAD_MIN_BYTES = 32 * 1024


def report(errors: list[DataError] | None, problem: DataError) -> None:
    """Raise ``problem`` (``errors`` is None) or append it to ``errors`` (verify mode)."""
    if errors is None:
        raise problem
    errors.append(problem)


def is_skipped(path: Path) -> bool:
    """Hidden files and OS junk (``.DS_Store``, ``Thumbs.db``, ``__MACOSX``) are never data."""
    return _skipped_name(path.name)


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name.lower() in _JUNK


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def broken_link(path: Path) -> DataError | None:
    """The error for ``path`` when it is a symbolic link loop or a dangling link, else None.

    ``is_file()`` and ``is_dir()`` are False for both, so a loader testing those alone would skip
    the file silently or misreport it; every loader asks this instead (the wording is
    :func:`~fer_bench.data.io.link_error`'s, which reading an image reports too).
    """
    try:
        os.stat(path)
    except OSError as exc:
        return link_error(path, exc)
    return None


def accepted_names(labels: Iterable[int] | None = None) -> str:
    """Folder names accepted for canonical ``labels`` (all classes when None), for messages."""
    keep = set(range(len(CLASSES)) if labels is None else labels)
    return ", ".join(sorted(s for s, c in SYNONYMS.items() if canonical_label(c) in keep))


def require_dir(path: Path, layout: str) -> None:
    """Raise :class:`DatasetNotFound` naming ``path`` and ``layout`` when it is missing or empty."""
    if not path.exists():
        link = broken_link(path)
        if link is not None:
            raise DatasetNotFound(link.path, link.problem, link.fix)
        raise DatasetNotFound(path, "dataset folder not found", f"put {layout} there")
    if not path.is_dir():
        raise DatasetNotFound(path, "not a folder", f"expected a folder holding {layout}")
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        raise unlistable(path, exc) from None
    if not any(not is_skipped(p) for p in entries):
        raise DatasetNotFound(path, "dataset folder is empty", f"put {layout} there")


def unlistable(folder: str | os.PathLike, exc: OSError) -> DataError:
    """The error for a folder whose listing failed with ``exc`` (permissions, a link loop)."""
    return DataError(folder, f"cannot list folder ({exc.strerror or exc})",
                     "check its permissions (it must be readable and searchable)")


def image_files(folder: Path, errors: list[DataError] | None, *, recursive: bool = True
                ) -> list[Path]:
    """Image files under ``folder`` in sorted order.

    Hidden files and OS junk are skipped. Other non-image files (``notes.txt``) and folders that
    cannot be listed are skipped when loading and reported in verify mode (``errors`` is a list),
    where they are a problem worth seeing; they are never decoded.
    """
    found, unlisted = _walk_images(folder, errors, recursive)
    if errors is not None:
        errors.extend(unlistable(where, exc) for where, exc in unlisted)
    return found


def _walk_images(folder: Path, errors: list[DataError] | None, recursive: bool
                 ) -> tuple[list[Path], list[tuple[str, OSError]]]:
    """:func:`image_files`' files, and the ``(folder, error)`` of every folder it could not list."""
    found: list[Path] = []
    unlisted: list[tuple[str, OSError]] = []
    # os.walk skips what it cannot list unless told: the error names the folder and the reason
    walk = os.walk(folder, onerror=lambda exc: unlisted.append((exc.filename, exc)))
    for dirpath, dirnames, filenames in walk:
        dirnames[:] = sorted(d for d in dirnames if not _skipped_name(d)) if recursive else []
        here = Path(dirpath)
        for name in sorted(filenames):
            # string tests before building a Path: Paths are slow to make, FER2013 has 36k files
            if _skipped_name(name):
                continue
            if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                found.append(here / name)
            elif errors is not None:  # os.walk lists a looped or dangling folder link as a file
                errors.append(broken_link(here / name) or DataError(
                    here / name, "not an image file", "remove it from the class folder"))
    return found, unlisted


def class_tree(
    root: Path, errors: list[DataError] | None, *, allowed: Sequence[int] | None = None,
    layout: str = "<class>/<image> folders",
) -> list[tuple[Path, int]]:
    """``(file, canonical label)`` for every image of a ``<class>/<image>`` tree under ``root``.

    Class folder names are matched case-insensitively with synonyms (``Sadness`` -> sad).
    ``allowed`` restricts the canonical labels accepted. An unknown, empty or unreadable class
    folder or an image lying outside any class folder is a :class:`DataError`; other loose files
    at the top (README, licence) are ignored. Raises :class:`DatasetNotFound` when ``root`` holds
    no class folders at all.
    """
    require_dir(root, layout)
    entries = sorted(p for p in root.iterdir() if not is_skipped(p))
    folders = [p for p in entries if p.is_dir()]
    if not folders:
        raise DatasetNotFound(root, "no class folders here", f"put {layout} there")
    items: list[tuple[Path, int]] = []
    for p in entries:
        if p.is_file() and is_image(p):
            report(errors, DataError(p, "image outside a class folder",
                                     "move it into the folder of its class"))
        elif not p.is_dir() and (is_image(p) or _is_class_name(p.name)):
            link = broken_link(p)  # a class folder (or an image) behind a broken link
            if link is not None:
                report(errors, link)
    for folder in folders:
        try:
            label = canonical_label(folder.name)
        except KeyError:
            label = -1
        if label < 0 or (allowed is not None and label not in allowed):
            report(errors, DataError(
                folder, f"unknown class folder {folder.name!r}",
                f"rename it to one of: {accepted_names(allowed)}",
            ))
            continue
        files, unlisted = _walk_images(folder, errors, recursive=True)
        for where, exc in unlisted:
            report(errors, unlistable(where, exc))
        if not files and not unlisted:
            report(errors, DataError(folder, "empty class folder", "add its images or remove it"))
        items.extend((f, label) for f in files)
    return items


def _is_class_name(name: str) -> bool:
    try:
        return canonical_label(name) >= 0
    except KeyError:
        return False


def decode_all(
    files: Sequence[Path], errors: list[DataError] | None,
    expect_size: tuple[int, int] | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Decode ``files`` to grayscale; returns the images that decoded and a keep-mask over files.

    Problems (corrupt, truncated, wrong size) go through :func:`report` in file order.
    """
    def one(f: Path) -> np.ndarray | DataError:
        try:
            return read_gray(f, expect_size)
        except DataError as exc:
            return exc

    def size(f: Path) -> int | None:
        try:
            return f.stat().st_size
        except OSError:  # missing, a broken link, no search permission: read_gray says which
            return None

    mean_bytes = np.mean([n for n in map(size, files[:64]) if n is not None] or [0])
    workers = min(8, os.cpu_count() or 1) if mean_bytes >= _THREAD_MIN_BYTES else 1
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, files, chunksize=8))
    else:
        results = [one(f) for f in files]
    images: list[np.ndarray] = []
    keep = np.ones(len(files), dtype=bool)
    for i, r in enumerate(results):
        if isinstance(r, DataError):
            report(errors, r)
            keep[i] = False
        else:
            images.append(r)
    return images, keep


def stack(images: Sequence[np.ndarray], empty_shape: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``(N, H, W)`` uint8 when all images share one size, else an object array of N images."""
    if not images:
        return np.zeros((0, *empty_shape), dtype=np.uint8)
    if all(im.shape == images[0].shape for im in images):
        return np.stack(images)
    out = np.empty(len(images), dtype=object)
    for i, im in enumerate(images):
        out[i] = im
    return out


def build_dataset(name: str, root: Path, files: Sequence[Path], labels: Sequence[int],
                  subjects: Sequence[str] | None, options: dict,
                  errors: list[DataError] | None, empty_shape: tuple[int, int] = (0, 0)
                  ) -> FaceDataset:
    """Decode ``files`` and return them, with their labels and subjects, as one dataset.

    Rows whose file fails to decode are dropped (and reported into ``errors`` when given);
    ``options["format"]`` names the layout in ``meta``.
    """
    images, keep = decode_all(files, errors)
    return FaceDataset(
        name=name, images=stack(images, empty_shape),
        labels=np.asarray(labels, dtype=np.int64)[keep],
        paths=np.asarray([str(f) for f in files], dtype=str)[keep],
        subjects=None if subjects is None else np.asarray(subjects, dtype=str)[keep],
        splits=None, meta={"root": str(root), "format": options["format"], "options": options},
    )


def load_cached(
    loader: str, source: Path, options: dict, files: Sequence[Path],
    build: Callable[[], FaceDataset], *, name: str, cache: bool,
    errors: list[DataError] | None,
) -> FaceDataset:
    """``build()``'s dataset through the ``.npz`` cache, keyed by source, options and file stats.

    Verify mode (``errors`` is a list) always builds: it must see every file. The cache may hold
    the dataset under another spelling of its name, so ``name`` is set on the way out.
    """
    if errors is not None or not cache:
        return build()
    link = broken_link(source)  # the cache key resolves the source, which a link loop breaks
    if link is not None:
        raise link
    base = source if source.is_dir() else source.parent
    try:
        files_hash = fingerprint(files, base)
    except ValueError:  # a labels.csv may point outside its folder
        resolved = [f.resolve() for f in files]
        files_hash = fingerprint(resolved, Path(os.path.commonpath(resolved)))
    key = key_for(loader, source, options, files_hash)
    ds = cached(key, build, enabled=True)
    return ds if ds.name == name else replace(ds, name=name)
