"""Any user folder of labelled faces: a ``<class>/<image>`` tree, or images plus ``labels.csv``.

Named ``folder:PATH`` on the command line. Images may be any format OpenCV reads, in colour or
gray, of any size (kept native; an object array when sizes differ).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFound
from .dataset import FaceDataset
from .labels import canonical_label
from .io import read_error
from .walk import (
    accepted_names, broken_link, build_dataset, class_tree, load_cached, report, require_dir,
)

LABELS_CSV = "labels.csv"
LAYOUT = (f"<class>/<image> folders (angry, disgust, fear, happy, sad, surprise, neutral, "
          f"contempt) or images plus a {LABELS_CSV} with path,label[,subject] columns")


def load(
    path: Path, *, name: str = "folder", cache: bool = True, errors: list[DataError] | None = None,
) -> FaceDataset:
    """Load a labelled image folder.

    Parameters
    ----------
    path : Path
        A ``<class>/<image>`` tree (class folder names matched case-insensitively, with synonyms
        such as ``Sadness``), or a folder holding ``labels.csv`` (``path,label`` and optionally
        ``subject`` columns, paths relative to the folder), or that ``labels.csv`` itself.
    name, cache, errors
        As for every loader (see :mod:`fer_bench.data`).

    Returns
    -------
    FaceDataset
        Gray uint8 ``images``, canonical ``labels``, ``subjects`` when ``labels.csv`` has them.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv" and (path.is_file() or broken_link(path) is not None):
        return _load_labels_csv(path.parent, path, name=name, cache=cache, errors=errors)
    require_dir(path, LAYOUT)
    if (path / LABELS_CSV).is_file() or broken_link(path / LABELS_CSV) is not None:
        return _load_labels_csv(path, path / LABELS_CSV, name=name, cache=cache, errors=errors)
    items = class_tree(path, errors, layout=LAYOUT)
    files = [f for f, _ in items]
    return load_cached(
        "folder", path, {"format": "class-tree"}, files,
        lambda: build_dataset(name, path, files, [lab for _, lab in items], None,
                              {"format": "class-tree"}, errors),
        name=name, cache=cache, errors=errors,
    )


def _load_labels_csv(root: Path, table: Path, *, name: str, cache: bool,
                     errors: list[DataError] | None) -> FaceDataset:
    fix = "rows are path,label[,subject] with paths relative to the folder"
    try:
        with table.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise read_error(table, exc) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(table, f"cannot read ({exc})", "save it as UTF-8 CSV text") from None
    if "path" not in header or "label" not in header:
        raise DataError(f"{table}:1",
                        f"header is {','.join(header)!r}, expected path,label[,subject]", fix)
    col_path, col_label = header.index("path"), header.index("label")
    col_subject = header.index("subject") if "subject" in header else None
    files: list[Path] = []
    labels: list[int] = []
    subjects: list[str] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        where = f"{table}:{line}"
        if len(row) != len(header):
            report(errors, DataError(where, f"{len(row)} fields, expected {len(header)}", fix))
            continue
        rel, label = row[col_path].strip(), row[col_label].strip()
        try:
            code = canonical_label(label)
        except KeyError:
            report(errors, DataError(where, f"unknown label {label!r}",
                                     f"use one of: {accepted_names()}"))
            continue
        subject = row[col_subject].strip() if col_subject is not None else ""
        if col_subject is not None and not subject:
            report(errors, DataError(where, "empty subject",
                                     "fill in the subject id or drop the column"))
            continue
        file = root / rel
        if not rel or not file.is_file():
            report(errors, (broken_link(file) if rel else None) or DataError(
                where, f"image {rel!r} not found in {root}",
                "fix the path (relative to the folder) or delete the row"))
            continue
        files.append(file)
        labels.append(code)
        subjects.append(subject)
    if not files and not rows:
        raise DatasetNotFound(table, "no rows", f"list the images as {fix}")
    subj = subjects if col_subject is not None else None
    return load_cached(
        "folder", root, {"format": "labels.csv", "table": table.name}, [table, *files],
        lambda: build_dataset(name, root, files, labels, subj, {"format": "labels.csv"}, errors),
        name=name, cache=cache, errors=errors,
    )
