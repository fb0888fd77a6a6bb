"""Every file that carries weights: ``.ferb`` model files and CNN training checkpoints.

This is the one module that reads or writes them; it knows file formats, never estimators, so
the pipelines (which checkpoint, and start from model files) and :mod:`fer_bench.models` (which
turns file contents into a usable model) both build on it without importing each other. Every
problem is a :class:`~fer_bench.errors.ModelFileError`: one line naming the file and the fix.

``.ferb`` layout (zip, deflated), format version 2:

* ``header.json`` -- format name and version, family, class names, face-stage settings,
  preprocessing, provenance, the weights member's name and ``sha256``: the SHA-256 of the
  canonical header (without that field) followed by the weights bytes, so neither can change
  unnoticed. Version 1 files (whose digest covered the weights only) are still read, with the
  same validation of every header field.
* ``weights.skops`` (classical: scikit-learn objects in skops' format) or ``weights.msgpack``
  (deep: :class:`CNNWeights` as flax msgpack). Never a pickle.

Loading trusts nothing in the file. Classical weights are refused unless every object node in
skops' schema is one of :data:`TRUSTED_TYPES` (the exact types the registered classical
pipelines save; skops' reduce, loss, function and method nodes, which call what the file names,
are never accepted), checked before skops constructs anything. Deep weights may hold numeric
arrays, numbers and strings only. The header is validated (types, ranges, the class count equal
to the model's output width) before anything is built from it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import replacing, write_bytes
from .errors import ModelFileError

FORMAT = "fer-bench-model"
FORMAT_VERSION = 2
SUFFIX = ".ferb"
HEADER = "header.json"
WEIGHTS = {"classical": "weights.skops", "deep": "weights.msgpack"}
CHECKPOINT_NAME = "checkpoint.msgpack"

#: Size limits of a model file's members once decompressed, and of the members of the skops
#: archive inside (a zip bomb is refused before any byte is inflated): the header is a page of
#: JSON; a FER2013 SVM pipeline holds some 100 MB of support vectors, a CNN here at most ~20 MB.
MAX_HEADER_BYTES = 4 << 20
MAX_WEIGHTS_BYTES = 512 << 20
#: Face crop sides a model may ask for (the face stage's sizes; 48 for every CNN here).
FACE_SIZES = (8, 512)
MAX_CLASSES = 1000

_DAMAGED = "the file is damaged or not a fer-bench model; train it again"

#: Every type a classical model file may hold, by skops node kind: exactly what the registered
#: classical and hybrid pipelines save (``tests/test_model_security.py`` fits each one and checks that this
#: list covers its file and nothing else is needed). Anything else is refused unbuilt.
TRUSTED_TYPES: dict[str, frozenset[str]] = {
    "ObjectNode": frozenset({
        "fer_bench.pipelines.base.Flatten",
        "fer_bench.pipelines.features.gabor.GaborFeatures",
        # cnn-svm's CNN stage: a model file's path and digest only (the CNN is read from that
        # file, itself loaded through this module, and must still have that digest)
        "fer_bench.pipelines.hybrid.CNNFeatures",
        # the ensemble: its classical member (these types) and its CNN file's path and digest
        "fer_bench.pipelines.ensemble.LateFusion",
        "fer_bench.pipelines.features.hog.HogFeatures",
        "fer_bench.pipelines.features.labelspace.LabelSpace",
        "fer_bench.pipelines.features.lbp.LbpFeatures",
        "fer_bench.pipelines.features.preprocess.Equalize",
        "fer_bench.pipelines.features.reduce.BlockScaler",
        "fer_bench.pipelines.features.reduce.CappedPCA",
        "fer_bench.pipelines.features.softmax.SoftmaxSVC",
        "fer_bench.pipelines.select.ValidatedPipeline",
        "sklearn.decomposition._pca.PCA",
        "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.svm._classes.SVC",
    }),
    # Arrays and numpy scalars: raw buffers (loaded without pickle), no code.
    "NdArrayNode": frozenset({"numpy.ndarray", "numpy.float32", "numpy.float64"}),
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset({"builtins.str"}),  # every JSON value (numbers too) is a str node
    "TypeNode": frozenset({"builtins.str"}),  # dict key types: imported, never called
}
TRUSTED_NAMES = frozenset().union(*TRUSTED_TYPES.values())


# -- contents ---------------------------------------------------------------------------------
@dataclass
class CNNWeights:
    """A fitted CNN as plain data: what a deep ``.ferb`` stores.

    Attributes
    ----------
    arch : str
        Architecture name (a key of ``fer_bench.pipelines.deep.networks.ARCHITECTURES``).
    params : dict
        The estimator's constructor parameters.
    classes : ndarray of shape (K,)
        The estimator's ``classes_`` (label indices into the model file's class names).
    variables : dict
        ``{"params": ..., "batch_stats": ...}`` as nested dicts of numpy arrays.
    history : list of dict
        Per-epoch training history.
    best_epoch : int
        The epoch whose weights these are.
    selection : dict
        Choices ``fit`` made on the validation split after training, e.g. ``{"tta": "flip",
        "tta_val_accuracy": {...}}`` for ``tta="auto"`` (empty when none).
    """

    arch: str
    params: dict
    classes: np.ndarray
    variables: dict
    history: list = field(default_factory=list)
    best_epoch: int = 0
    selection: dict = field(default_factory=dict)


@dataclass
class ModelContents:
    """What :func:`read_model` found: the validated header and the weights.

    ``weights`` is the fitted scikit-learn estimator (classical) or :class:`CNNWeights` (deep).
    """

    header: dict
    weights: Any
    path: Path


# -- .ferb ------------------------------------------------------------------------------------
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
    blob = _dump_classical(path, weights) if family == "classical" else _dump_deep(weights)
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
        _load_deep(path, blob)
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
            header = json.loads(_member(zf, path, HEADER, MAX_HEADER_BYTES).decode("utf-8"))
            _validate_header(path, header)
            if header["format_version"] == 1:  # no header checksum: could be edited unnoticed
                raise ModelFileError(
                    path, "model format version 1: its header has no checksum, so it may have "
                    "been changed", "train it again with this fer-bench (it writes version 2)")
            if not weights:
                return header, None
            blob = _member(zf, path, header["weights"], MAX_WEIGHTS_BYTES)
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
    from .face.stage import EQUALIZERS, MODES  # cv2 only; the header names these settings

    size, margin = face.get("size", 48), face.get("margin", 0.2)
    if not _is_int(size) or not FACE_SIZES[0] <= size <= FACE_SIZES[1]:
        raise bad(f"face size {size!r} (expected an integer in {FACE_SIZES[0]}..{FACE_SIZES[1]})")
    if not _is_number(margin) or not 0 <= margin <= 2:
        raise bad(f"face margin {margin!r} (expected a number in 0..2)")
    from .face.framing import OFFSET_RANGE, SCALE_RANGE

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


# -- classical weights (skops) ----------------------------------------------------------------
def _dump_classical(path: Path, estimator: Any) -> bytes:
    import skops.io as sio

    blob = sio.dumps(estimator)
    refused = _untrusted(blob)
    if refused:
        raise ModelFileError(path, f"this pipeline holds types a model file may not: "
                             f"{', '.join(refused[:5])}", "add them to modelfile.TRUSTED_TYPES "
                             "only if loading them cannot run code")
    return blob


def skops_nodes(blob: bytes) -> set[tuple[str, str]]:
    """``(loader, "module.Class")`` of every node in a skops file, read from its schema without
    constructing anything. Raises the zip/JSON errors of a damaged archive."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        # The arrays inside are inflated by skops itself: bound them by their declared sizes,
        # which zipfile enforces while reading.
        if sum(i.file_size for i in zf.infolist()) > MAX_WEIGHTS_BYTES:
            raise ValueError(f"the weights would inflate past {MAX_WEIGHTS_BYTES} bytes")
        schema = json.loads(zf.read("schema.json"))
    found: set[tuple[str, str]] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "__loader__" in node:
                found.add((str(node.get("__loader__")),
                           f"{node.get('__module__')}.{node.get('__class__')}"))
            stack.extend(node.values())
    return found


def _untrusted(blob: bytes) -> list[str]:
    """``"module.Class (Loader)"`` of every node outside :data:`TRUSTED_TYPES` (a cached node
    may repeat any trusted object)."""
    def allowed(loader: str, name: str) -> bool:
        names = TRUSTED_NAMES if loader == "CachedNode" else TRUSTED_TYPES.get(loader, ())
        return name in names

    return sorted(f"{name} ({loader})" for loader, name in skops_nodes(blob)
                  if not allowed(loader, name))


def _load_classical(path: Path, blob: bytes) -> Any:
    import skops.io as sio

    refuse = ("only load model files from a source you trust, written by fer-bench's own "
              "`train`")
    try:
        # Our own reading of the schema first: skops has not parsed a node when it refuses.
        refused = _untrusted(blob)
        if not refused:
            refused = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_NAMES]
    except Exception as exc:  # skops raises assorted errors on a damaged archive
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ModelFileError(path, f"unreadable classical weights ({detail})", _DAMAGED) from None
    if refused:
        raise ModelFileError(path, f"refusing to load types outside fer-bench's allow-list: "
                             f"{', '.join(refused[:5])}", refuse)
    try:
        return sio.loads(blob, trusted=sorted(TRUSTED_NAMES))
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ModelFileError(path, f"cannot rebuild the classical model ({detail})",
                             _DAMAGED) from None


# -- deep weights and checkpoints (flax msgpack) ----------------------------------------------
_CNN_FORMAT = "fer-bench-cnn"
_CNN_VERSION = 1


def _dump_deep(w: CNNWeights) -> bytes:
    params = dict(w.params, checkpoint_dir=None)  # a machine-local path means nothing elsewhere
    return dump({
        "format": _CNN_FORMAT, "version": _CNN_VERSION, "arch": w.arch,
        "params": json.dumps(params, default=str),
        "classes": json.dumps(np.asarray(w.classes).tolist()),
        "history": json.dumps(w.history, default=_jsonable),
        "best_epoch": int(w.best_epoch), "variables": w.variables,
        "selection": json.dumps(w.selection, default=_jsonable),
    })


def _load_deep(path: Path, blob: bytes) -> CNNWeights:
    tree = _restore(path, blob, "deep weights", _DAMAGED)
    if tree.get("format") != _CNN_FORMAT or tree.get("version") != _CNN_VERSION:
        raise ModelFileError(path, "the deep weights are not fer-bench CNN weights", _DAMAGED)
    try:
        params = json.loads(tree["params"])
        classes = np.asarray(json.loads(tree["classes"]))
        history = json.loads(tree["history"])
        arch, variables, best = tree["arch"], tree["variables"], tree.get("best_epoch", 0)
        selection = json.loads(tree.get("selection", "{}"))  # absent from older files
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"deep weights metadata is damaged ({exc})", _DAMAGED) from None
    if (not isinstance(params, dict) or not isinstance(arch, str) or params.get("arch") != arch
            or not isinstance(variables, dict) or not isinstance(history, list)
            or not _is_int(best) or not isinstance(selection, dict)):
        raise ModelFileError(path, "deep weights metadata is inconsistent", _DAMAGED)
    return CNNWeights(arch=arch, params=params, classes=classes, variables=variables,
                      history=history, best_epoch=int(best), selection=selection)


def to_host(tree: Any) -> Any:
    """A pytree of (possibly sharded, on-device) arrays as numpy arrays; other leaves (str,
    int, float) are kept as they are."""
    import jax

    def leaf(x: Any) -> Any:
        return np.asarray(x) if isinstance(x, (jax.Array, np.ndarray, np.generic)) else x

    return jax.tree_util.tree_map(leaf, jax.device_get(tree))


def dump(tree: dict) -> bytes:
    """msgpack bytes of a nested dict of arrays, numbers and strings."""
    from flax import serialization

    return serialization.msgpack_serialize(serialization.to_state_dict(to_host(tree)))


def _restore(path: Path, data: bytes, what: str, fix: str) -> dict:
    from flax import serialization

    try:
        tree = serialization.msgpack_restore(data)
    except Exception as exc:  # msgpack raises several unrelated types for damaged input
        raise ModelFileError(path, f"corrupt {what} ({type(exc).__name__})", fix) from None
    if not isinstance(tree, dict):
        raise ModelFileError(path, f"not a {what}", fix)
    bad = _foreign_leaf(tree)
    if bad:
        raise ModelFileError(path, f"{what} hold {bad}; only numeric arrays, numbers and "
                             "strings are allowed", fix)
    return tree


def _foreign_leaf(tree: Any) -> str | None:
    """The first leaf that is not a numeric array / number / string (None when all are)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not all(isinstance(k, str) for k in node):
                return "a non-string key"
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, (np.ndarray, np.generic)):
            if node.dtype.kind not in "fiub" and node.dtype.name != "bfloat16":
                return f"an array of dtype {node.dtype}"
        elif not isinstance(node, (str, int, float, bool, type(None))):
            return f"a {type(node).__name__}"
    return None


def restore_into(target: Any, raw: Any, path: str | os.PathLike, what: str, fix: str) -> Any:
    """``raw`` (a state dict from a checkpoint or :class:`CNNWeights`) restored into the
    structure of ``target`` (arrays or ``jax.ShapeDtypeStruct``), checking every shape."""
    import jax
    from flax import serialization

    if not isinstance(raw, dict):
        raise ModelFileError(path, f"{what} holds no weights", fix)
    try:
        restored = serialization.from_state_dict(target, raw)
    except Exception as exc:  # flax raises ValueError/KeyError/TypeError for mismatches
        raise ModelFileError(path, f"{what} does not match the model ({exc})", fix) from None
    shape = lambda a: tuple(getattr(a, "shape", np.shape(a)))  # noqa: E731 (arrays or specs)
    if jax.tree_util.tree_map(shape, target) != jax.tree_util.tree_map(shape, restored):
        raise ModelFileError(path, f"{what} has arrays of the wrong shape", fix)
    return restored


def checkpoint_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(directory: str | os.PathLike, tree: dict) -> Path:
    """Write checkpoint ``tree`` (see ``pipelines.deep.checkpoint``) to
    ``directory/checkpoint.msgpack`` atomically."""
    return write_bytes(checkpoint_path(directory), dump(tree))


def load_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The raw checkpoint dict in ``directory``, or None when there is none yet;
    :class:`ModelFileError` if it is unreadable, truncated or not a checkpoint."""
    path = checkpoint_path(directory)
    fix = "delete it to start the run afresh"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read checkpoint ({exc.strerror})", fix) from None
    return _restore(path, data, "checkpoint", fix)


# -- helpers ----------------------------------------------------------------------------------
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
