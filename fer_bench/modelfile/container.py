"""The ``.ferb`` zip container: writing it atomically, reading it back with its size limits
(a zip bomb is refused before any byte is inflated) and its checksum over header and weights."""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import modelfile  # the size limits, read at call time (a changed one applies)
from ..atomic import replacing
from ..errors import ModelFileError
from . import _DAMAGED, FORMAT, FORMAT_VERSION, HEADER, WEIGHTS
from .classical import _dump_classical, _load_classical
from .deep import CNNWeights, dump_deep, load_deep
from .header import _check_outputs, _digest, _jsonable, _validate_header


@dataclass
class ModelContents:
    """What :func:`read_model` found: the validated header and the weights.

    ``weights`` is the fitted scikit-learn estimator (classical) or :class:`CNNWeights` (deep).
    """

    header: dict
    weights: Any
    path: Path


def write_model(path: str | os.PathLike, *, family: str, classes: list[str], face: dict,
                provenance: dict, weights: Any) -> Path:
    """Write a ``.ferb`` file atomically (a killed save never leaves half a file).

    ``weights`` is a fitted scikit-learn estimator (``family="classical"``) or
    :class:`CNNWeights` (``"deep"``). A classical estimator holding a type outside
    :data:`TRUSTED_TYPES` is refused here, so no file is written that could not be read back.
    Returns the path; :class:`ModelFileError` if the folder cannot be written.
    """
    path = Path(path)
    if family not in WEIGHTS:
        raise ValueError(f"unknown model family {family!r}; expected one of {list(WEIGHTS)}")
    blob = _dump_classical(path, weights) if family == "classical" else dump_deep(weights)
    member = WEIGHTS[family]
    size = int(face.get("size", 48))
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "family": family,
        "classes": list(classes), "face": dict(face),
        "preprocessing": {
            "input": "grayscale uint8", "size": size,
            "crop": ("square of side box / face.box_scale centred face.box_offset sides above "
                     "the detected face box's centre" if face.get("box_scale") is not None else
                     "square around the detected face box grown by face.margin on each side")
                    + ", clipped to the image, resized with INTER_AREA, then face.equalize",
        },
        "provenance": provenance, "weights": member,
    }
    header = json.loads(json.dumps(header, default=_jsonable))  # as a reader will see it
    _validate_header(path, header)
    header["sha256"] = _digest(header, blob)
    try:
        with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(HEADER, json.dumps(header, indent=1, sort_keys=True))
            zf.writestr(member, blob)
    except OSError as exc:
        raise ModelFileError(path, f"cannot write here ({exc.strerror or exc})",
                             "choose another --out path") from None
    return path


def read_header(path: str | os.PathLike) -> dict:
    """The validated JSON header of a model file (classes, face settings, provenance)."""
    return _read_members(Path(path), weights=False)[0]


def read_model(path: str | os.PathLike) -> ModelContents:
    """Read and check a ``.ferb`` file written by :func:`write_model`.

    Raises :class:`ModelFileError` (one line, naming ``path``) for a missing, damaged, tampered
    or foreign file, an invalid header, classical weights holding types outside
    :data:`TRUSTED_TYPES`, deep weights holding anything but numbers and strings, and weights
    whose class count differs from the header's.
    """
    path = Path(path)
    header, blob = _read_members(path)
    weights = _load_classical(path, blob) if header["family"] == "classical" else \
        load_deep(path, blob)
    classes = weights.classes if isinstance(weights, CNNWeights) else \
        getattr(weights, "classes_", None)
    _check_outputs(path, header, classes)
    return ModelContents(header=header, weights=weights, path=path)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (a run's signature covers the weights it starts from);
    :class:`ModelFileError` when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read model file ({exc.strerror or exc})",
                             "pass an existing .ferb model file") from None
    return h.hexdigest()


def _read_members(path: Path, weights: bool = True) -> tuple[dict, bytes | None]:
    if not path.is_file():
        raise ModelFileError(path, "model file not found" if not path.exists() else "not a file",
                             "check the path, or train one with `python -m fer_bench train`")
    try:
        with zipfile.ZipFile(path) as zf:
            raw = _member(zf, path, HEADER, modelfile.MAX_HEADER_BYTES)
            header = json.loads(raw.decode("utf-8"))
            _validate_header(path, header)
            if header["format_version"] == 1:  # no header checksum: could be edited unnoticed
                raise ModelFileError(
                    path, "model format version 1: its header has no checksum, so it may have "
                    "been changed", "train it again with this fer-bench (it writes version 2)")
            if not weights:
                return header, None
            blob = _member(zf, path, header["weights"], modelfile.MAX_WEIGHTS_BYTES)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError,
            zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, RecursionError,
            RuntimeError) as exc:  # RuntimeError: an encrypted member
        # BadZipFile also covers CRC mismatches and truncation inside a member.
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelFileError(path, f"not a readable fer-bench model file ({detail[:200]})",
                             _DAMAGED) from None
    if header["format_version"] == 1:
        expected = hashlib.sha256(blob).hexdigest()
    else:
        expected = _digest({k: v for k, v in header.items() if k != "sha256"}, blob)
    if header.get("sha256") != expected:
        raise ModelFileError(path, "checksum mismatch: header or weights were changed or damaged",
                             _DAMAGED)
    return header, blob


def _member(zf: zipfile.ZipFile, path: Path, name: str, limit: int) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ModelFileError(path, f"not a fer-bench model file (no {name})", _DAMAGED) from None
    if info.file_size > limit:
        raise ModelFileError(path, f"{name} would inflate to {info.file_size} bytes (limit "
                             f"{limit})", "this is not a model fer-bench wrote; do not load it")
    data = zf.read(info)
    if len(data) > limit:  # the size in the directory can lie; the CRC check caught most lies
        raise ModelFileError(path, f"{name} is larger than its entry says", _DAMAGED)
    return data
