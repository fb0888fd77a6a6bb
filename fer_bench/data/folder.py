"""Any user folder of labelled faces: a ``<class>/<image>`` tree, or images plus ``labels.csv``.

Named ``folder:PATH`` on the command line. Images may be PNG, JPEG, BMP, TIFF, PNM or WebP
(:mod:`.io`), in colour or gray, of any size (kept native; an object array when sizes differ).
"""
from __future__ import annotations

import csv
from pathlib import Path


from ..errors import DataError, DatasetNotFound
from .dataset import FaceDataset
from .labels import canonical_label
from .io import read_error
from .walk import (
    accepted_names, broken_link, build_dataset, class_tree, load_cached, report, require_dir,
)

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "dataset", "name": "folder", "target": "load", "order": 50,
            "summary": "Any <class>/<image> tree or flat folder + labels.csv; name it folder:PATH",
            "subdirs": [], "by_path": True}]

LABELS_CSV = "labels.csv"
LAYOUT = (f"<class>/<image> folders (angry, disgust, fear, happy, sad, surprise, neutral, "
          f"contempt) or images plus a {LABELS_CSV} with path,label[,subject] columns")
#: The loader options that choose a ``labels.csv``'s columns, with their defaults (``subject``
#: is optional: used when the header has it).
COLUMN_OPTIONS = {"path_column": "path", "label_column": "label", "subject_column": "subject"}
#: Every option the loader takes (given as ``--dataset-option KEY=VALUE``).
OPTIONS = (*COLUMN_OPTIONS, "image_root")


def load(
    path: Path, *, name: str = "folder", cache: bool = True, errors: list[DataError] | None = None,
    path_column: str | None = None, label_column: str | None = None,
    subject_column: str | None = None, image_root: str | None = None, **unknown,
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
    path_column, label_column, subject_column : str, optional
        ``labels.csv`` only: the header names of the image-path, label and subject columns
        (default ``path``, ``label`` and ``subject``, matched case-insensitively; without
        ``subject_column`` a ``subject`` column is used when there is one). Other columns are
        ignored.
    image_root : str, optional
        ``labels.csv`` only: the folder the paths are relative to, itself relative to the
        folder holding ``labels.csv`` (or absolute); default that folder.

    Options that are not given stay out of the cache key, so a plain ``path,label[,subject]``
    file keeps its key.

    Returns
    -------
    FaceDataset
        Gray uint8 ``images``, canonical ``labels``, ``subjects`` when ``labels.csv`` has them.
    """
    path = Path(path)
    if unknown:
        raise DataError(path, f"unknown option(s) {', '.join(sorted(unknown))}",
                        f"a folder dataset takes {', '.join(OPTIONS)}")
    given = {k: v for k, v in (("path_column", path_column), ("label_column", label_column),
                               ("subject_column", subject_column), ("image_root", image_root))
             if v is not None}
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
            raise DataError(path, f"option {key}={value!r} is invalid",
                            "give a column name" if key != "image_root" else "give a folder")
    given = {k: str(v) for k, v in given.items()}
    if path.suffix.lower() == ".csv" and (path.is_file() or broken_link(path) is not None):
        return _load_labels_csv(path.parent, path, given, name=name, cache=cache, errors=errors)
    require_dir(path, LAYOUT)
    if (path / LABELS_CSV).is_file() or broken_link(path / LABELS_CSV) is not None:
        return _load_labels_csv(path, path / LABELS_CSV, given, name=name, cache=cache,
                                errors=errors)
    if given:
        raise DataError(path, f"option(s) {', '.join(given)} apply to a {LABELS_CSV}, and this "
                        "folder is a <class>/<image> tree",
                        f"drop the option(s), or list the images in {path / LABELS_CSV}")
    items = class_tree(path, errors, layout=LAYOUT)
    files = [f for f, _ in items]
    return load_cached(
        "folder", path, {"format": "class-tree"}, files,
        lambda: build_dataset(name, path, files, [lab for _, lab in items], None,
                              {"format": "class-tree"}, errors),
        name=name, cache=cache, errors=errors,
    )


def _column(header: list[str], option: str, given: dict, table: Path, fix: str,
            required: bool = True) -> int | None:
    """Index of the column ``given[option]`` (or its default) names in ``header``; None for an
    optional column that is absent. Raises a one-line DataError listing the header otherwise."""
    wanted = given.get(option, COLUMN_OPTIONS[option]).strip().lower()
    if header.count(wanted) > 1:  # which copy holds the labels is anybody's guess
        raise DataError(f"{table}:1", f"the header names column {wanted!r} "
                        f"{header.count(wanted)} times", "give every column its own name")
    if wanted in header:
        return header.index(wanted)
    if option not in given and not required:
        return None
    if not any(k in given for k in COLUMN_OPTIONS):  # no column named: the defaults are missing
        raise DataError(f"{table}:1", f"header is {','.join(header)!r}, expected "
                        f"path,label[,subject]", f"{fix}, or name the columns with "
                        "--dataset-option path_column=... label_column=... subject_column=...")
    raise DataError(f"{table}:1", f"no column {wanted!r} ({option}"
                    f"{'' if option in given else ', the default'}); the header has "
                    f"{', '.join(header) or 'no columns'}",
                    f"set {option} to one of the header's columns")


def _load_labels_csv(root: Path, table: Path, given: dict[str, str], *, name: str, cache: bool,
                     errors: list[DataError] | None) -> FaceDataset:
    images = root / given["image_root"] if "image_root" in given else root
    where_rel = "the image root" if "image_root" in given else "the folder"
    named = [given.get(k, COLUMN_OPTIONS[k]) for k in ("path_column", "label_column")]
    fix = (f"rows are {named[0]},{named[1]}"
           + (f",{given['subject_column']}" if "subject_column" in given else "[,subject]")
           + f" with paths relative to {where_rel}")
    try:
        with table.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise read_error(table, exc) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(table, f"cannot read ({exc})", "save it as UTF-8 CSV text") from None
    col_path = _column(header, "path_column", given, table, fix)
    col_label = _column(header, "label_column", given, table, fix)
    col_subject = _column(header, "subject_column", given, table, fix, required=False)
    if len({col_path, col_label, col_subject} - {None}) < 2 + (col_subject is not None):
        raise DataError(f"{table}:1", "path, label and subject options name the same column",
                        "give each of path_column, label_column, subject_column its own column")
    if "image_root" in given and not images.is_dir():
        raise (broken_link(images) or DatasetNotFound(
            images, "image_root is not a folder",
            f"set image_root to the folder the paths are relative to (relative to {root})"))
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
        if not label:
            report(errors, DataError(where, "empty label",
                                     f"fill in the label or delete the row ({fix})"))
            continue
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
        file = images / rel
        if not rel or not file.is_file():
            report(errors, (broken_link(file) if rel else None) or DataError(
                where, f"image {rel!r} not found in {images}",
                f"fix the path (relative to {where_rel}) or delete the row"))
            continue
        files.append(file)
        labels.append(code)
        subjects.append(subject)
    if not files and not rows:
        raise DatasetNotFound(table, "no rows", f"list the images as {fix}")
    subj = subjects if col_subject is not None else None
    # Only the options given enter the key and meta: a plain file keeps its cache entry.
    key = {"format": "labels.csv", "table": table.name, **given}
    meta = {"format": "labels.csv", **given}
    return load_cached(
        "folder", root, key, [table, *files],
        lambda: build_dataset(name, root, files, labels, subj, meta, errors),
        name=name, cache=cache, errors=errors,
    )
