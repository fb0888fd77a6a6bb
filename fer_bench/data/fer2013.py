"""FER2013: the image-folder release (``train/<class>/Training_*.jpg``) or the original CSV.

Goodfellow et al. 2013, "Challenges in Representation Learning" (ICML 2013 workshop, Kaggle).
35,887 48x48 grayscale faces in seven classes with three official splits: Training (28,709),
PublicTest (3,589, for model selection) and PrivateTest (3,589, for the final report).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFound, UsageError
from .dataset import FaceDataset
from .io import read_error
from .walk import broken_link, class_tree, decode_all, is_skipped, load_cached, report, stack

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "dataset", "name": "fer2013", "target": "load", "order": 10,
            "summary": "FER2013 (image-folder release or fer2013.csv)", "subdirs": ["fer2013"]}]

SIZE = (48, 48)
SPLITS = ("Training", "PublicTest", "PrivateTest")
CSV_NAME = "fer2013.csv"
FORMATS = (None, "folder", "csv")
LAYOUT = ("train/<class>/Training_*.jpg + test/<class>/{PublicTest,PrivateTest}_*.jpg, "
          "or fer2013.csv")
_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)
# Split folders of the image release and of common re-packagings, with the splits each may
# hold; "test" holds both test splits unless a validation folder holds PublicTest.
_PART_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("Training",), "training": ("Training",),
    "val": ("PublicTest",), "valid": ("PublicTest",), "validation": ("PublicTest",),
    "publictest": ("PublicTest",), "privatetest": ("PrivateTest",),
    "test": ("PublicTest", "PrivateTest"),
}
_N_PIXELS = SIZE[0] * SIZE[1]


def load(
    path: Path, *, name: str = "fer2013", cache: bool = True,
    errors: list[DataError] | None = None, format: str | None = None,
) -> FaceDataset:
    """Load FER2013 from ``path`` (the ``fer2013/`` folder, or ``fer2013.csv`` itself).

    Parameters
    ----------
    path : Path
        Folder holding the image release (``train/``, ``test/``) and/or ``fer2013.csv``.
    name : str
        Dataset name recorded on the result.
    cache : bool
        Reuse / store the decoded dataset in the ``.npz`` cache.
    errors : list of DataError, optional
        Verify mode: collect every bad file here and skip it instead of raising on the first.
    format : {None, "folder", "csv"}
        Which release to read; None prefers the image folders when both are present.

    Returns
    -------
    FaceDataset
        ``images`` (N, 48, 48) uint8, canonical ``labels`` (N,), ``splits`` (N,) in
        Training / PublicTest / PrivateTest, ``subjects`` None, ``paths`` the files or
        ``fer2013.csv:LINE``.
    """
    if format not in FORMATS:
        raise UsageError(f"fer2013: format must be one of None, 'folder', 'csv', not {format!r}")
    path = Path(path)
    link = broken_link(path)
    if link is not None:
        raise link
    if path.is_file():
        if format == "folder":
            raise DatasetNotFound(path, "is a file",
                                  f"format='folder' needs a folder with {LAYOUT}")
        return _load_csv(path, name=name, cache=cache, errors=errors)
    if not path.is_dir() or not any(not is_skipped(p) for p in path.iterdir()):
        what = "dataset folder not found" if not path.exists() else "dataset folder is empty"
        raise DatasetNotFound(path, what, f"put {LAYOUT} there")
    parts = _parts(path, errors)
    csv = _find_csv(path)
    if format == "csv" or (format is None and not parts and csv is not None):
        if csv is None:
            raise DatasetNotFound(path, f"no {CSV_NAME} here", f"put {CSV_NAME} in {path}")
        return _load_csv(csv, name=name, cache=cache, errors=errors)
    if not parts:
        raise DatasetNotFound(path, "no train/ or test/ folders here", f"put {LAYOUT} there")
    return _load_folders(path, parts, name=name, cache=cache, errors=errors)


# --- image-folder release ------------------------------------------------------------------

def _parts(path: Path, errors: list[DataError] | None) -> list[Path]:
    """The split folders (``train/``, ``test/``, ...); one behind a broken link is reported."""
    parts = []
    for p in sorted(path.iterdir()):
        if p.name.lower() not in _PART_SPLITS:
            continue
        if p.is_dir():
            parts.append(p)
        elif (link := broken_link(p)) is not None:
            report(errors, link)
    return parts


def _find_csv(path: Path) -> Path | None:
    """``fer2013.csv`` here or one level down (the Kaggle tarball extracts to fer2013/fer2013.csv).

    A link loop or dangling link by that name counts: reading it then says what is wrong.
    """
    nested = sorted(p / CSV_NAME for p in path.iterdir() if p.is_dir())
    for csv in (path / CSV_NAME, *nested):
        if csv.is_file() or broken_link(csv) is not None:
            return csv
    return None


def _split_of(file: Path, part: str, has_val: bool) -> str | None:
    """Split tag from the file-name prefix (else the folder), None when it cannot be told or the
    prefix contradicts the folder (a Training_ image among test images would leak)."""
    allowed = ("PrivateTest",) if part == "test" and has_val else _PART_SPLITS[part]
    m = _PREFIX.match(file.name)
    if m is None:
        return allowed[0] if len(allowed) == 1 else None
    tag = next(s for s in SPLITS if s.lower() == m.group(1).lower())
    return tag if tag in allowed else None


def _load_folders(path: Path, parts: list[Path], *, name: str, cache: bool,
                  errors: list[DataError] | None) -> FaceDataset:
    has_val = any(_PART_SPLITS[p.name.lower()] == ("PublicTest",) for p in parts)
    files: list[Path] = []
    labels: list[int] = []
    splits: list[str] = []
    for part in parts:
        layout = f"{part.name}/<class>/<image> folders (classes angry, disgust, fear, happy, " \
                 "sad, surprise, neutral)"
        for f, label in class_tree(part, errors, allowed=range(7), layout=layout):
            split = _split_of(f, part.name.lower(), has_val)
            if split is None:
                report(errors, DataError(
                    f, f"cannot tell the split of this file in {part.name}/",
                    "name it Training_*, PublicTest_* or PrivateTest_* to match its folder: "
                    "train/ holds Training, test/ PublicTest and PrivateTest",
                ))
                continue
            files.append(f)
            labels.append(label)
            splits.append(split)
    options = {"format": "folder"}

    def build() -> FaceDataset:
        images, keep = decode_all(files, errors, expect_size=SIZE)
        return FaceDataset(
            name=name, images=stack(images, SIZE),
            labels=np.asarray(labels, dtype=np.int64)[keep],
            paths=np.asarray([str(f) for f in files], dtype=str)[keep],
            splits=np.asarray(splits, dtype=str)[keep],
            subjects=None, meta={"root": str(path), "format": "folder", "options": options},
        )

    return load_cached("fer2013", path, options, files, build,
                       name=name, cache=cache, errors=errors)


# --- original CSV release --------------------------------------------------------------------

def _load_csv(csv: Path, *, name: str, cache: bool, errors: list[DataError] | None
              ) -> FaceDataset:
    options = {"format": "csv"}

    def build() -> FaceDataset:
        images, labels, splits, lines = parse_csv(csv, errors)
        return FaceDataset(
            name=name, images=images, labels=labels, splits=splits, subjects=None,
            paths=np.asarray([f"{csv}:{n}" for n in lines], dtype=str),
            meta={"root": str(csv), "format": "csv", "options": options},
        )

    return load_cached("fer2013", csv, options, [csv], build,
                       name=name, cache=cache, errors=errors)


def parse_csv(csv: Path, errors: list[DataError] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse ``fer2013.csv`` (``emotion,pixels,Usage``; columns found by header name).

    Returns
    -------
    images : ndarray of shape (N, 48, 48) uint8
    labels : ndarray of shape (N,) int64
    splits : ndarray of shape (N,) str
    lines : ndarray of shape (N,) int
        1-based line number of each row in the file (the header is line 1).
    """
    try:
        data = csv.read_bytes()
    except OSError as exc:
        raise read_error(csv, exc) from None
    rows = data.split(b"\n")
    first = rows[0].decode("utf-8", "replace").strip("\ufeff\r")
    header = [h.strip().lower() for h in first.split(",")]
    if not {"emotion", "pixels", "usage"} <= set(header):
        raise DataError(f"{csv}:1", f"header is {first[:60]!r}, expected emotion,pixels,Usage",
                        "use the original Kaggle fer2013.csv")
    col = {h: header.index(h) for h in ("emotion", "pixels", "usage")}
    n_cols = len(header)
    usage_of = {s.lower().encode(): s for s in SPLITS}
    fix = "re-download fer2013.csv (Kaggle) or delete the row"
    # Per-row work is a handful of bytes operations; the 2304 pixels of a row are parsed by numpy.
    images = np.empty((len(rows), *SIZE), dtype=np.uint8)
    labels, splits, lines = [], [], []
    with warnings.catch_warnings():
        # np.fromstring warns (future: raises) when text is left over, e.g. a non-integer pixel
        warnings.simplefilter("error", DeprecationWarning)
        for i, raw in enumerate(rows[1:], start=2):
            row = raw.rstrip(b"\r")
            if not row.strip():
                continue
            where = f"{csv}:{i}"
            fields = row.split(b",")
            if len(fields) != n_cols:
                last = i == len(rows) and not data.endswith(b"\n")
                problem = "truncated row (file cut off)" if last and len(fields) < n_cols else \
                    f"{len(fields)} fields, expected {n_cols}"
                report(errors, DataError(where, problem, fix))
                continue
            emotion, usage = fields[col["emotion"]].strip(), fields[col["usage"]].strip()
            if not (emotion.isdigit() and int(emotion) <= 6):
                report(errors, DataError(where, f"emotion {emotion.decode(errors='replace')!r} "
                                                "is not a code 0..6", fix))
                continue
            if usage.lower() not in usage_of:
                report(errors, DataError(where, f"unknown Usage {usage.decode(errors='replace')!r}",
                                         f"use Training, PublicTest or PrivateTest, or {fix}"))
                continue
            pixels = fields[col["pixels"]].strip().strip(b'"')
            try:
                values = np.fromstring(pixels, dtype=np.int64, sep=" ")
                problem = None
            except (ValueError, DeprecationWarning):
                bad = next((t for t in pixels.split() if not t.isdigit()), b"?")
                values, problem = None, f"non-integer pixel {bad.decode(errors='replace')!r}"
            if values is not None and len(values) != _N_PIXELS:
                cut = i == len(rows) and not data.endswith(b"\n")
                problem = f"{len(values)} pixels, expected {_N_PIXELS}" + \
                    (" (file cut off: truncated last row)" if cut else "")
            elif values is not None and (values.min() < 0 or values.max() > 255):
                problem = "pixel value outside 0..255"
            if problem is not None:
                report(errors, DataError(where, problem, fix))
                continue
            images[len(labels)] = values.reshape(SIZE)
            labels.append(int(emotion))
            splits.append(usage_of[usage.lower()])
            lines.append(i)
    n = len(labels)
    return (images[:n].copy(), np.asarray(labels, dtype=np.int64), np.asarray(splits, dtype=str),
            np.asarray(lines, dtype=np.int64))

