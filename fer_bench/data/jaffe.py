"""JAFFE: the Japanese Female Facial Expression database, original release.

Lyons et al. 1998, "Coding Facial Expressions with Gabor Wavelets". 213 images of 10 subjects
posing seven expressions, 256x256 TIFF, named ``SUBJECT.EXPRn.ID.tiff`` (``KA.AN1.39.tiff``).
"""
from __future__ import annotations

import re
from pathlib import Path


from ..errors import DataError, DatasetNotFound
from .dataset import FaceDataset
from .labels import canonical_label
from .walk import (
    broken_link, build_dataset, is_image, is_skipped, load_cached, report, require_dir,
)

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "dataset", "name": "jaffe", "target": "load", "order": 30,
            "summary": "JAFFE (original release, KA.AN1.39.tiff names)", "subdirs": ["jaffe"]}]

#: JAFFE's two-letter expression codes, as canonical labels.
EXPRESSION_CODES: dict[str, int] = {
    code: canonical_label(n) for code, n in {
        "NE": "neutral", "HA": "happy", "SA": "sad", "SU": "surprise", "AN": "angry",
        "DI": "disgust", "FE": "fear",
    }.items()
}
LAYOUT = "the JAFFE images as one flat folder of SUBJECT.EXPRn.ID.tiff files (KA.AN1.39.tiff)"
_NAME = re.compile(r"^([A-Za-z]+)\.([A-Za-z]+)(\d*)\.(\d+)\.\w+$")


def load(
    path: Path, *, name: str = "jaffe", cache: bool = True, errors: list[DataError] | None = None,
) -> FaceDataset:
    """Load JAFFE from the flat folder ``path``; non-image files (README) are ignored.

    Returns
    -------
    FaceDataset
        ``images`` (N, 256, 256) uint8 at native size (an object array when sizes differ),
        canonical ``labels``, ``subjects`` the name's first token (``KA``), no ``splits``.
    """
    path = Path(path)
    require_dir(path, LAYOUT)
    files, labels, subjects = [], [], []
    n_reported = len(errors) if errors is not None else 0
    for f in sorted(p for p in path.iterdir() if not is_skipped(p) and is_image(p)):
        if not f.is_file():
            link = broken_link(f)  # a folder named like an image is no JAFFE file: ignored
            if link is not None:
                report(errors, link)
            continue
        m = _NAME.match(f.name)
        if m is None:
            report(errors, DataError(
                f, "name is not SUBJECT.EXPRn.ID.tiff",
                "JAFFE files are named like KA.AN1.39.tiff; rename or remove it"))
            continue
        code = m.group(2).upper()
        if code not in EXPRESSION_CODES:
            report(errors, DataError(
                f, f"unknown expression code {m.group(2)!r}",
                f"use one of {', '.join(EXPRESSION_CODES)} or remove the file"))
            continue
        files.append(f)
        labels.append(EXPRESSION_CODES[code])
        subjects.append(m.group(1).upper())
    if not files and (errors is None or len(errors) == n_reported):
        raise DatasetNotFound(path, "no JAFFE images here", f"put {LAYOUT} there")
    options = {"format": "jaffe"}

    def build() -> FaceDataset:
        return build_dataset(name, path, files, labels, subjects, options, errors, (256, 256))

    return load_cached("jaffe", path, options, files, build, name=name, cache=cache, errors=errors)
