"""CK+ (extended Cohn-Kanade): the CK+48 crops or the original release.

Lucey et al. 2010, "The Extended Cohn-Kanade Dataset (CK+)". Posed sequences that run from a
neutral face to the peak expression; 327 sequences of 118 subjects carry an emotion label.

* CK+48: ``<class>/S<subj>_<seq>_<frame>.png``, 48x48 crops of the last three frames of each
  labelled sequence (981 images).
* Original: ``cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_zzzzzzzz.png`` and
  ``Emotion/Sxxx/yyy/Sxxx_yyy_zzzzzzzz_emotion.txt`` (one float code); the last ``n_frames``
  frames of each labelled sequence are taken at native size (640x490, some in colour).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFound, UsageError
from .dataset import FaceDataset
from .labels import canonical_label
from .io import read_error
from .walk import (
    broken_link, build_dataset, class_tree, image_files, load_cached, report, require_dir,
)

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "dataset", "name": "ckplus", "target": "load", "order": 20,
            "summary": "CK+ (CK+48 crops or the original release)",
            "subdirs": ["ckplus48", "ckplus"]}]

IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
#: The original release's emotion codes, as canonical labels.
EMOTION_CODES: dict[int, int] = {
    code: canonical_label(n) for code, n in enumerate(
        ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"))
}
LAYOUT = ("CK+48 (<class>/S<subj>_<seq>_<frame>.png) or the original release "
          f"({IMAGES_DIR}/ and {EMOTION_DIR}/)")
_CK48_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.", re.IGNORECASE)


def load(
    path: Path, *, name: str = "ckplus", cache: bool = True, errors: list[DataError] | None = None,
    n_frames: int | None = None, first_as_neutral: bool = False,
) -> FaceDataset:
    """Load CK+ from ``path``, telling the CK+48 and original layouts apart by their content.

    Parameters
    ----------
    path : Path
        ``ckplus48/`` (class folders) or ``ckplus/`` (``cohn-kanade-images/`` + ``Emotion/``).
    name, cache, errors
        As for every loader (see :mod:`fer_bench.data`).
    n_frames : int, optional
        Original release only: frames taken from the end of each labelled sequence (default 3,
        as in CK+48).
    first_as_neutral : bool
        Original release only: also take each labelled sequence's first frame as neutral.

    Returns
    -------
    FaceDataset
        ``images`` (N, H, W) uint8 (an object array when sizes differ), canonical ``labels``,
        ``subjects`` like ``"S005"``, no ``splits``.
    """
    path = Path(path)
    require_dir(path, LAYOUT)
    if any((path / sub).is_dir() or broken_link(path / sub) for sub in (IMAGES_DIR, EMOTION_DIR)):
        return _load_original(path, name=name, cache=cache, errors=errors,
                              n_frames=3 if n_frames is None else n_frames,
                              first_as_neutral=first_as_neutral)
    if n_frames is not None or first_as_neutral:
        raise UsageError(f"ckplus: n_frames / first_as_neutral apply to the original release "
                         f"only; {path} holds CK+48 crops (already the last 3 frames)")
    return _load_ck48(path, name=name, cache=cache, errors=errors)


def _load_ck48(path: Path, *, name: str, cache: bool, errors: list[DataError] | None
               ) -> FaceDataset:
    files, labels, subjects = [], [], []
    for f, label in class_tree(path, errors, layout=LAYOUT):
        m = _CK48_NAME.match(f.name)
        if m is None:
            report(errors, DataError(f, "name is not S<subject>_<sequence>_<frame>",
                                     "CK+48 files are named like S005_001_00000011.png"))
            continue
        files.append(f)
        labels.append(label)
        subjects.append(m.group(1).upper())
    options = {"format": "ckplus48"}
    return load_cached(
        "ckplus", path, options, files,
        lambda: build_dataset(name, path, files, labels, subjects, options, errors),
        name=name, cache=cache, errors=errors,
    )


def _load_original(path: Path, *, name: str, cache: bool, errors: list[DataError] | None,
                   n_frames: int, first_as_neutral: bool) -> FaceDataset:
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise UsageError(f"ckplus: n_frames must be a positive integer, not {n_frames!r}")
    for sub in (IMAGES_DIR, EMOTION_DIR):
        link = broken_link(path / sub)
        if link is not None:
            raise link
        if not (path / sub).is_dir():
            raise DatasetNotFound(path / sub, "folder missing from the original CK+ release",
                                  f"extract both {IMAGES_DIR}/ and {EMOTION_DIR}/ into {path}")
    label_files = sorted((path / EMOTION_DIR).rglob("*_emotion.txt"))
    if not label_files:
        raise DatasetNotFound(path / EMOTION_DIR, "no *_emotion.txt label files",
                              "extract Emotion_labels.zip (Emotion/Sxxx/yyy/*_emotion.txt) "
                              "here")
    files, labels, subjects = [], [], []
    for txt in label_files:
        code = _read_code(txt, errors)
        if code is None:
            continue
        rel = txt.parent.relative_to(path / EMOTION_DIR)  # Sxxx/yyy
        seq = path / IMAGES_DIR / rel
        frames = image_files(seq, None, recursive=False) if seq.is_dir() else []
        if not frames:
            report(errors, broken_link(seq) or DataError(
                txt, f"no image frames in {seq}",
                f"extract the sequence into {IMAGES_DIR}/{rel.as_posix()}"))
            continue
        subject = rel.parts[0].upper()
        picked = [(f, EMOTION_CODES[code]) for f in frames[-n_frames:]]
        if first_as_neutral and len(frames) > n_frames:  # else the first frame is already a peak
            picked.insert(0, (frames[0], EMOTION_CODES[0]))
        for f, label in picked:
            files.append(f)
            labels.append(label)
            subjects.append(subject)
    options = {"format": "original", "n_frames": int(n_frames),
               "first_as_neutral": bool(first_as_neutral)}
    return load_cached(
        "ckplus", path, options, [*label_files, *files],
        lambda: build_dataset(name, path, files, labels, subjects, options, errors),
        name=name, cache=cache, errors=errors,
    )


def _read_code(txt: Path, errors: list[DataError] | None) -> int | None:
    fix = "re-extract Emotion_labels.zip; the file holds one code 0..7 such as 3.0000000e+00"
    try:
        tokens = txt.read_text(errors="replace").split()
    except OSError as exc:  # a link loop, a dangling link, no permission: said as such
        report(errors, read_error(txt, exc))
        return None
    try:
        value = float(tokens[0]) if len(tokens) == 1 else None
    except ValueError:
        value = None
    if value is None or not value.is_integer() or int(value) not in EMOTION_CODES:
        report(errors, DataError(txt, "not an emotion code 0..7", fix))
        return None
    return int(value)
