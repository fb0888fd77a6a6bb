"""A ``.ferb`` header: its validation (every field the loader uses) and its digest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from . import _DAMAGED, FACE_SIZES, FORMAT, FORMAT_VERSION, HEADER, MAX_CLASSES, WEIGHTS


def _digest(header: dict, blob: bytes) -> str:
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii") + b"\0" + blob).hexdigest()


def _validate_header(path: Path, header: Any) -> None:
    """Every header field the loader uses, checked for type and range (one line on failure)."""
    def bad(problem: str) -> ModelFileError:
        return ModelFileError(path, f"invalid model header: {problem}", _DAMAGED)

    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(path, f"not a fer-bench model file ({HEADER} is not ours)", _DAMAGED)
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise bad(f"format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"model format version {version} is newer than this "
                             f"fer-bench reads ({FORMAT_VERSION})", "upgrade fer-bench")
    family = header.get("family")
    if not isinstance(family, str) or family not in WEIGHTS:
        raise bad(f"family {family!r} (expected one of {', '.join(WEIGHTS)})")
    if header.get("weights") != WEIGHTS[family]:  # also refuses a non-string
        raise bad(f"weights member {header.get('weights')!r} (expected {WEIGHTS[family]})")
    classes = header.get("classes")
    if (not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES
            or not all(isinstance(c, str) and 0 < len(c) <= 100 for c in classes)
            or len(set(classes)) != len(classes)):
        raise bad("classes must be a list of 2 or more distinct class names")
    face = header.get("face")
    if not isinstance(face, dict):
        raise bad("face settings missing")
    from ..face.stage import EQUALIZERS, MODES  # cv2 only; the header names these settings

    size, margin = face.get("size", 48), face.get("margin", 0.2)
    if not _is_int(size) or not FACE_SIZES[0] <= size <= FACE_SIZES[1]:
        raise bad(f"face size {size!r} (expected an integer in {FACE_SIZES[0]}..{FACE_SIZES[1]})")
    if not _is_number(margin) or not 0 <= margin <= 2:
        raise bad(f"face margin {margin!r} (expected a number in 0..2)")
    from ..face.framing import OFFSET_RANGE, SCALE_RANGE

    box_scale, box_offset = face.get("box_scale"), face.get("box_offset", 0.0)
    if box_scale is not None and not (_is_number(box_scale)
                                      and SCALE_RANGE[0] <= box_scale <= SCALE_RANGE[1]):
        raise bad(f"face box_scale {box_scale!r} (expected a number in "
                  f"{SCALE_RANGE[0]}..{SCALE_RANGE[1]})")
    if not _is_number(box_offset) or not OFFSET_RANGE[0] <= box_offset <= OFFSET_RANGE[1]:
        raise bad(f"face box_offset {box_offset!r} (expected a number in "
                  f"{OFFSET_RANGE[0]}..{OFFSET_RANGE[1]})")
    if face.get("mode", "auto") not in MODES or face.get("equalize") not in EQUALIZERS:
        raise bad(f"face mode / equalize {face.get('mode')!r} / {face.get('equalize')!r}")
    if family == "deep" and size != 48:
        raise bad(f"face size {size} (every CNN here takes 48x48 faces)")
    pre = header.get("preprocessing", {})
    if not isinstance(pre, dict) or pre.get("size", size) != size:
        raise bad("preprocessing size differs from the face size")
    if not isinstance(header.get("provenance", {}), dict):
        raise bad("provenance is not a mapping")


def _check_outputs(path: Path, header: dict, classes: Any) -> None:
    """The model's outputs must be label indices into the header's class names (a CNN's output
    width is checked against them when its weights are restored into the architecture)."""
    k = len(header["classes"])
    classes = np.asarray(classes) if classes is not None else None
    if (classes is None or classes.ndim != 1 or classes.dtype.kind not in "iu"
            or len(np.unique(classes)) != len(classes) or len(classes) < 2
            or classes.min() < 0 or classes.max() >= k):
        raise ModelFileError(path, f"the model's classes do not index the header's {k} class "
                             "names", _DAMAGED)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays in provenance (metrics, params) become plain JSON.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, bytes)):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model header")
