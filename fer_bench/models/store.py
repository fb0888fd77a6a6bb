"""The ``.ferb`` model file: one zip holding a JSON header and the weights, never a pickle.

Layout (zip, deflated):

* ``header.json`` -- format name and version, family, class names, face-stage settings,
  preprocessing, provenance, and the SHA-256 of the weights member;
* ``weights.skops`` (classical pipelines: scikit-learn objects in skops' safe format, loaded
  only when every type in it is on :data:`TRUSTED_PREFIXES`) or ``weights.msgpack`` (deep
  pipelines: the deep module's own file, architecture + parameters via flax serialisation).

Any damage (not a zip, truncated, bad CRC, missing member, wrong format or version, checksum
mismatch, untrusted type) raises :class:`ModelFileError`: one line naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import DataError
from .model import FerModel

FORMAT = "fer-bench-model"
FORMAT_VERSION = 1
SUFFIX = ".ferb"
HEADER = "header.json"
WEIGHTS = {"classical": "weights.skops", "deep": "weights.msgpack"}

#: Module prefixes of the types a classical model file may contain. Anything else (``os``,
#: ``builtins.eval``, a third-party class) is refused before skops builds a single object.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "skimage.", "fer_bench.")


class ModelFileError(DataError):
    """A model file is missing, damaged, of another format, or holds untrusted code."""


def save_model(model: FerModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically (a killed save never leaves half a file).

    Returns the path written. Raises :class:`ModelFileError` if the folder cannot be written.
    """
    path = Path(path)
    if model.family not in WEIGHTS:
        raise ValueError(f"unknown model family {model.family!r}; expected one of {list(WEIGHTS)}")
    weights = _dump_weights(model)
    member = WEIGHTS[model.family]
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "family": model.family,
        "classes": list(model.classes), "face": dict(model.face),
        "preprocessing": {
            "input": "grayscale uint8", "size": model.size,
            "crop": "square around the detected face box grown by face.margin on each side, "
                    "clipped to the image, resized with INTER_AREA, then face.equalize",
        },
        "provenance": model.provenance, "weights": member,
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ModelFileError(path, f"cannot write here ({exc.strerror})",
                             "choose another --out path") from None
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(HEADER, json.dumps(header, indent=1, sort_keys=True, default=_jsonable))
            zf.writestr(member, weights)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a model file is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    model.path = path
    return path


def load_model(path: str | os.PathLike) -> FerModel:
    """Read a model file written by :func:`save_model`.

    Raises :class:`ModelFileError` (one line, naming ``path``) for a missing, damaged or
    foreign file and for classical weights holding types outside :data:`TRUSTED_PREFIXES`.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "model file not found" if not path.exists() else "not a file",
                             "check the path, or train one with `python -m fer_bench train`")
    header, weights = _read_members(path)
    family = header["family"]
    estimator = _load_weights(path, family, weights)
    return FerModel(estimator=estimator, classes=tuple(header["classes"]),
                    face=dict(header["face"]), family=family,
                    provenance=dict(header.get("provenance") or {}), path=path)


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a model file (classes, face settings, provenance) without the weights."""
    return _read_members(Path(path), weights=False)[0]


def _read_members(path: Path, weights: bool = True) -> tuple[dict, bytes | None]:
    fix = "the file is damaged or not a fer-bench model; train or download it again"
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                header = json.loads(zf.read(HEADER).decode("utf-8"))
            except KeyError:
                raise ModelFileError(path, f"not a fer-bench model file (no {HEADER})", fix) from None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ModelFileError(path, f"not a fer-bench model file ({HEADER} is not ours)", fix)
            version = header.get("format_version")
            if not isinstance(version, int) or version < 1:
                raise ModelFileError(path, f"model format version {version!r} is invalid", fix)
            if version > FORMAT_VERSION:
                raise ModelFileError(
                    path, f"model format version {version!r} is newer than this fer-bench reads "
                          f"({FORMAT_VERSION})", "upgrade fer-bench")
            family = header.get("family")
            missing = [k for k in ("classes", "face") if k not in header]
            if family not in WEIGHTS or missing or header.get("weights") != WEIGHTS[family]:
                raise ModelFileError(path, "model header is incomplete or inconsistent", fix)
            if not weights:
                return header, None
            try:
                blob = zf.read(WEIGHTS[family])
            except KeyError:
                raise ModelFileError(path, f"weights member {WEIGHTS[family]} is missing", fix) from None
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError,
            zipfile.LargeZipFile, NotImplementedError, ValueError, OSError) as exc:
        # BadZipFile also covers CRC mismatches and truncation inside a member.
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelFileError(path, f"not a readable fer-bench model file ({detail})", fix) from None
    if hashlib.sha256(blob).hexdigest() != header.get("sha256"):
        raise ModelFileError(path, "weights checksum mismatch (the file is corrupted)", fix)
    return header, blob


def _dump_weights(model: FerModel) -> bytes:
    if model.family == "classical":
        import skops.io as sio

        return sio.dumps(model.estimator)
    from ..pipelines.deep.estimator import save_model as save_deep

    with tempfile.TemporaryDirectory(prefix="ferb-") as tmp:
        target = Path(tmp) / WEIGHTS["deep"]
        save_deep(model.estimator, target, class_names=list(model.classes))
        return target.read_bytes()


def _load_weights(path: Path, family: str, blob: bytes) -> Any:
    fix = "the file is damaged or was written by an incompatible fer-bench; train it again"
    if family == "classical":
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(data=blob)
        except Exception as exc:  # skops raises assorted errors on a damaged archive
            problem = f"unreadable classical weights ({type(exc).__name__})"
            raise ModelFileError(path, problem, fix) from None
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ModelFileError(
                path, f"refusing to load types outside scikit-learn/numpy/fer-bench: "
                      f"{', '.join(refused[:5])}", "only load model files from a source you trust")
        try:
            return sio.loads(blob, trusted=untrusted)
        except Exception as exc:
            detail = " ".join(str(exc).split())[:200]
            raise ModelFileError(path, f"cannot rebuild the classical model ({detail})", fix) from None
    from ..pipelines.deep.estimator import load_model as load_deep

    with tempfile.TemporaryDirectory(prefix="ferb-") as tmp:
        target = Path(tmp) / WEIGHTS["deep"]
        target.write_bytes(blob)
        try:
            return load_deep(target)
        except Exception as exc:
            detail = " ".join(str(exc).split())[:200]
            raise ModelFileError(path, f"cannot rebuild the deep model ({detail})", fix) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays in provenance (metrics, params) become plain JSON.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, bytes)):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model header")

