"""Classical weights: scikit-learn objects in skops' format, loaded only when every node of
the archive's schema is one of :data:`TRUSTED_TYPES` (checked before skops builds anything)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from .. import modelfile  # the size limits, read at call time (a changed one applies)
from ..errors import ModelFileError
from . import _DAMAGED

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
        if sum(i.file_size for i in zf.infolist()) > modelfile.MAX_WEIGHTS_BYTES:
            raise ValueError(f"the weights would inflate past {modelfile.MAX_WEIGHTS_BYTES} bytes")
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
