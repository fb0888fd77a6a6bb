"""Every file that carries weights: ``.ferb`` model files and CNN training checkpoints.

This is the one package that reads or writes them; it knows file formats, never estimators, so
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

Modules: :mod:`.container` (the zip file: writing, reading, size limits, checksum),
:mod:`.header` (the header's validation and digest), :mod:`.classical` (skops weights and their
allow-list), :mod:`.deep` (:class:`CNNWeights`), :mod:`.trees` (flax msgpack trees: their safe
restoring and the CNN training checkpoints). Every name is importable from here; the two byte
limits (``MAX_HEADER_BYTES``, ``MAX_WEIGHTS_BYTES``) are read from here at call time, so a changed
limit applies everywhere; the other constants are fixed at import.
"""
from __future__ import annotations

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

# The modules below import the names above from here: they come after them.
from .classical import TRUSTED_NAMES, TRUSTED_TYPES, skops_nodes  # noqa: E402
from .container import (  # noqa: E402
    ModelContents, file_digest, read_header, read_model, write_model,
)
from .deep import CNNWeights, dump_deep, load_deep  # noqa: E402
from .trees import (  # noqa: E402
    checkpoint_path, dump, load_checkpoint, restore_into, save_checkpoint, to_host,
)
# Private helpers, importable from here as before (the tests forge files with them).
from .classical import _dump_classical, _load_classical, _untrusted  # noqa: E402,F401
from .container import _member, _read_members  # noqa: E402,F401
from .deep import _CNN_FORMAT, _CNN_VERSION  # noqa: E402,F401
from .header import (  # noqa: E402,F401
    _check_outputs, _digest, _is_int, _is_number, _jsonable, _validate_header,
)
from .trees import _foreign_leaf, _restore  # noqa: E402,F401

__all__ = [
    "CHECKPOINT_NAME", "CNNWeights", "FACE_SIZES", "FORMAT", "FORMAT_VERSION", "HEADER",
    "MAX_CLASSES", "MAX_HEADER_BYTES", "MAX_WEIGHTS_BYTES", "ModelContents", "SUFFIX",
    "TRUSTED_NAMES", "TRUSTED_TYPES", "WEIGHTS", "checkpoint_path", "dump", "dump_deep",
    "file_digest", "load_checkpoint", "load_deep", "read_header", "read_model", "restore_into",
    "save_checkpoint", "skops_nodes", "to_host", "write_model",
]
