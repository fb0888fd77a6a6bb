"""The one structure every loader returns."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Sequence

import numpy as np

from .labels import CLASSES, LabelView


@dataclass(frozen=True, eq=False)
class FaceDataset:
    """Images, canonical labels and their provenance.

    Attributes
    ----------
    name : str
        Registered dataset name (``fer2013``, ``ckplus``, ``folder:/path`` ...).
    images : ndarray
        ``(N, H, W)`` uint8 grayscale at native size when all images share one size; otherwise an
        object array of N two-dimensional uint8 arrays.
    labels : ndarray of shape (N,)
        Canonical labels (indices into :data:`fer_bench.data.labels.CLASSES`).
    subjects : ndarray of shape (N,) of str, or None
        Subject id per image, ``None`` where the dataset has none (FER2013).
    splits : ndarray of shape (N,) of str, or None
        Split tag per image where the dataset defines splits (``Training``, ``PublicTest``, ...).
    paths : ndarray of shape (N,) of str
        Source of each image (a file, or ``file.csv:row`` for the CSV release).
    meta : dict
        Free-form provenance (root, format, loader options).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    subjects: np.ndarray | None = None
    splits: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        for attr in ("images", "paths", "subjects", "splits"):
            value = getattr(self, attr)
            if value is not None and len(value) != n:
                raise ValueError(f"FaceDataset {self.name}: {attr} has {len(value)} rows, labels {n}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def uniform(self) -> bool:
        """True when ``images`` is one ``(N, H, W)`` array."""
        return self.images.dtype != object

    @property
    def class_counts(self) -> dict[str, int]:
        """Images per canonical class present, in canonical order."""
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {CLASSES[c]: int(k) for c, k in enumerate(counts) if k}

    @property
    def split_counts(self) -> dict[str, int]:
        if self.splits is None:
            return {}
        names, counts = np.unique(self.splits, return_counts=True)
        return {str(n): int(k) for n, k in zip(names, counts)}

    @property
    def n_subjects(self) -> int | None:
        return None if self.subjects is None else int(len(np.unique(self.subjects)))

    def subset(self, index: np.ndarray) -> "FaceDataset":
        """The rows ``index`` (integer indices or a boolean mask) as a new dataset."""
        index = np.asarray(index)

        def take(a):
            return None if a is None else a[index]

        return replace(
            self, images=self.images[index], labels=self.labels[index], paths=self.paths[index],
            subjects=take(self.subjects), splits=take(self.splits),
        )

    @classmethod
    def from_parts(cls, name: str, parts: dict[str, "FaceDataset"], **meta) -> "FaceDataset":
        """One dataset from a release's parts (e.g. its ``train/`` and ``test/`` folders, each
        loaded on its own), each part's name becoming the split tag of its images; subjects
        are kept only when every part has them."""
        if not parts:
            raise ValueError("from_parts needs at least one part")
        sets = list(parts.values())
        if all(d.uniform for d in sets) and len({d.images.shape[1:] for d in sets}) == 1:
            images = np.concatenate([d.images for d in sets])
        else:  # sizes differ: one object array of 2-D images
            images = np.empty(sum(len(d) for d in sets), dtype=object)
            for i, im in enumerate(im for d in sets for im in d.images):
                images[i] = im
        with_subjects = all(d.subjects is not None for d in sets)
        return cls(
            name=name, images=images, labels=np.concatenate([d.labels for d in sets]),
            paths=np.concatenate([d.paths for d in sets]),
            subjects=np.concatenate([d.subjects for d in sets]) if with_subjects else None,
            splits=np.concatenate([np.full(len(d), tag) for tag, d in parts.items()]),
            meta=meta,
        )

    def view_labels(self, view: LabelView) -> np.ndarray:
        """Labels in ``view``'s space, -1 where the view drops the class."""
        return view.apply(self.labels)

    def relative_path(self, path: object) -> str:
        """``path`` relative to the dataset's root (``meta["root"]``) when it lies under it, as
        it is otherwise: how messages and records name the dataset's files briefly."""
        path, root = str(path), str(self.meta.get("root") or "")
        return os.path.relpath(path, root) if root and path.startswith(root + os.sep) else path

    @cached_property
    def content_hashes(self) -> np.ndarray:
        """:func:`content_hashes` of ``images``, computed once per dataset object.

        The leak guard checks every fold of a protocol against the same dataset, so the digests
        are kept (a ``cached_property`` writes the instance dict, which ``frozen`` allows).
        """
        return content_hashes(self.images)


def content_hashes(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """One digest per image of its decoded pixels, shape and dtype: equal digest, same image.

    Cheap: BLAKE2b over 48 x 48 bytes takes about 0.2 s for FER2013's 35,887 images.

    Parameters
    ----------
    images : ndarray of shape (N, H, W), or object array / sequence of N arrays
        Decoded images, as :attr:`FaceDataset.images` holds them.

    Returns
    -------
    ndarray of shape (N,), dtype ``S16``
        16-byte BLAKE2b digests.
    """
    out = np.empty(len(images), dtype="S16")
    for i, im in enumerate(images):
        im = np.ascontiguousarray(im)
        h = hashlib.blake2b(f"{im.shape}{im.dtype.str}".encode(), digest_size=16)
        h.update(im.reshape(-1).view(np.uint8))  # the raw bytes, no copy (empty images too)
        out[i] = h.digest()
    return out


def duplicate_groups(hashes: np.ndarray) -> list[np.ndarray]:
    """Indices of the images that share their content, one array per group of two or more.

    Parameters
    ----------
    hashes : ndarray of shape (N,)
        :func:`content_hashes` of a dataset.

    Returns
    -------
    list of ndarray of int
        Each group's indices in increasing order; groups ordered by their first index.
    """
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    ends = np.cumsum(counts)
    groups = [order[end - k:end] for k, end in zip(counts, ends) if k > 1]
    return sorted(groups, key=lambda g: g[0])
